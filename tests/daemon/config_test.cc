#include "daemon/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace phc::daemon {
namespace {

constexpr char kChip[] = R"pb(
  name: "chip4"
  circuits {
    name: "mesh"
    mesh { topology: MESH_TOPOLOGY_CLEMENTS size: 4 }
  }
  laser_power_mw: 1
  heater { resistance_ohm: 1000 p_pi_mw: 25 max_voltage_v: 10 max_current_ma: 10 }
  modulator { v_pi_v: 2.5 max_voltage_v: 3 }
  detector { responsivity_a_per_w: 0.9 dark_current_na: 1 }
  max_total_heater_power_mw: 500
)pb";

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("phc_config_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "chips");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path Write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, LoadsConfigAndResolvesChipFileRelativeToConfig) {
  Write("chips/chip4.textproto", kChip);
  const auto path =
      Write("photonicd.textproto", "chip_file: \"chips/chip4.textproto\"\nbackend: BACKEND_SIM\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->chip.name(), "chip4");
  EXPECT_EQ(loaded->chip.circuits(0).mesh().size(), 4u);
  // Defaults.
  EXPECT_EQ(loaded->daemon.listen_address(), "127.0.0.1:50051");
  EXPECT_EQ(loaded->daemon.log_level(), "info");
}

TEST_F(ConfigTest, AcceptsInlineChip) {
  const auto path =
      Write("photonicd.textproto", std::string("backend: BACKEND_SIM\nchip {") + kChip + "}\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->chip_source, "inline");
}

TEST_F(ConfigTest, MalformedConfigReportsFileLineAndColumn) {
  const auto path = Write("photonicd.textproto", "backend: BACKEND_SIM\nlisten_adress: \"x\"\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("photonicd.textproto:2:"), std::string::npos)
      << loaded.status();
  EXPECT_NE(loaded.status().message().find("listen_adress"), std::string::npos) << loaded.status();
}

TEST_F(ConfigTest, MissingConfigFileIsNotFound) {
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(dir_ / "nope.textproto");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(loaded.status().message().find("nope.textproto"), std::string::npos);
}

TEST_F(ConfigTest, MissingChipFileNamesTheField) {
  const auto path = Write("photonicd.textproto",
                          "chip_file: \"chips/missing.textproto\"\nbackend: BACKEND_SIM\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(loaded.status().message().find("chip_file \"chips/missing.textproto\""),
            std::string::npos)
      << loaded.status();
}

TEST_F(ConfigTest, InvalidChipFieldIsNamedWithItsValue) {
  std::string chip = kChip;
  chip.replace(chip.find("size: 4"), 7, "size: 1");
  Write("chips/bad.textproto", chip);
  const auto path =
      Write("photonicd.textproto", "chip_file: \"chips/bad.textproto\"\nbackend: BACKEND_SIM\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("circuits[0].mesh.size must be in [2, 256], got 1"),
            std::string::npos)
      << loaded.status();
  EXPECT_NE(loaded.status().message().find("bad.textproto"), std::string::npos);
}

TEST_F(ConfigTest, NonPositiveHeaterResistanceIsRejected) {
  std::string chip = kChip;
  chip.replace(chip.find("resistance_ohm: 1000"), 20, "resistance_ohm: -5");
  Write("chips/bad.textproto", chip);
  const auto path =
      Write("photonicd.textproto", "chip_file: \"chips/bad.textproto\"\nbackend: BACKEND_SIM\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  EXPECT_NE(loaded.status().message().find("heater.resistance_ohm"), std::string::npos)
      << loaded.status();
  EXPECT_NE(loaded.status().message().find("-5"), std::string::npos) << loaded.status();
}

TEST_F(ConfigTest, BackendMustBeGiven) {
  Write("chips/chip4.textproto", kChip);
  const auto path = Write("photonicd.textproto", "chip_file: \"chips/chip4.textproto\"\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("BACKEND_UNSPECIFIED"), std::string::npos)
      << loaded.status();
}

TEST_F(ConfigTest, SerialBackendNeedsItsDevicesAndResolvesThemRelativeToTheConfig) {
  Write("chips/chip4.textproto", kChip);
  const auto missing_adc =
      Write("serial.textproto",
            "chip_file: \"chips/chip4.textproto\"\nbackend: BACKEND_SERIAL\n"
            "serial { heaters: \"/dev/ttyUSB0\" modulators: \"/dev/ttyUSB1\" }\n");
  const absl::StatusOr<LoadedConfig> refused = LoadConfigFile(missing_adc);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("serial.adc"), std::string::npos) << refused.status();

  const auto relative =
      Write("serial.textproto",
            "chip_file: \"chips/chip4.textproto\"\nbackend: BACKEND_SERIAL\n"
            "serial { heaters: \"/dev/ttyUSB0\" modulators: \"links/modulators\" adc: \"adc\" }\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(relative);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->daemon.serial().heaters(), "/dev/ttyUSB0");
  EXPECT_EQ(loaded->daemon.serial().modulators(), (dir_ / "links/modulators").string());
  EXPECT_EQ(loaded->daemon.serial().adc(), (dir_ / "adc").string());
  EXPECT_EQ(loaded->daemon.serial().tec(), "") << "no TEC stays no TEC";
}

TEST(ShippedConfigTest, TheSerialExampleLoads) {
  const absl::StatusOr<LoadedConfig> loaded =
      LoadConfigFile(std::string(PHC_SOURCE_DIR) + "/deploy/photonicd-serial.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->daemon.backend(), photonic::v1::BACKEND_SERIAL);
  EXPECT_EQ(loaded->chip.name(), "clements8");
}

TEST_F(ConfigTest, UnknownLogLevelIsRejected) {
  Write("chips/chip4.textproto", kChip);
  const auto path = Write("photonicd.textproto",
                          "chip_file: \"chips/chip4.textproto\"\nbackend: BACKEND_SIM\n"
                          "log_level: \"loud\"\n");
  const absl::StatusOr<LoadedConfig> loaded = LoadConfigFile(path);
  EXPECT_NE(loaded.status().message().find("log_level \"loud\""), std::string::npos)
      << loaded.status();
}

TEST_F(ConfigTest, ChipSourceIsRequired) {
  const auto path = Write("photonicd.textproto", "backend: BACKEND_SIM\n");
  EXPECT_NE(LoadConfigFile(path).status().message().find("chip_file or chip"), std::string::npos);
}

}  // namespace
}  // namespace phc::daemon
