// The e2e fixture: a temporary directory with an ideal 8x8 chip, the real
// photonicd binary started on it, a gRPC channel and the photonctl binary.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ideal_chip.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "subprocess.h"

namespace phc {

namespace pb = photonic::v1;
using testing::CommandResult;
using testing::RunCommand;
using testing::Subprocess;

inline constexpr auto kStartTimeout = std::chrono::seconds(20);
inline const std::string kChipsDir = std::string(PHC_SOURCE_DIR) + "/deploy/chips";

// kIdealChip (ideal_chip.h): its readings follow the nominal values below.
inline constexpr int kN = 8;
inline constexpr double kLaserMw = 1.0;
inline constexpr double kResponsivity = 0.9;
inline constexpr double kDarkUa = 1e-3;

class DaemonE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: Unix socket paths must stay under 108 bytes.
    char dir_template[] = "/tmp/phcXXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    std::ofstream(dir_ / "ideal8.textproto") << kIdealChip;
    WriteConfig("ideal8.textproto");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteConfig(const std::string& chip_file) {
    config_ = dir_ / "photonicd.textproto";
    std::ofstream(config_) << "chip_file: \"" << chip_file << "\"\nbackend: BACKEND_SIM\n"
                           << "sim { seed: 3 }\n";
  }

  // Starts photonicd and waits for its "listening on" line.
  void StartDaemon(const std::string& listen) {
    daemon_ = std::make_unique<Subprocess>(
        std::vector<std::string>{PHOTONICD_PATH, "--config", config_.string(), "--listen", listen});
    const std::optional<std::string> line = daemon_->ReadStdoutLine(kStartTimeout);
    if (!line.has_value()) daemon_->Signal(SIGKILL);  // alive but silent: do not hang
    ASSERT_TRUE(line.has_value()) << "photonicd did not start: " << daemon_->Wait().err;
    const std::string prefix = "photonicd: listening on ";
    ASSERT_TRUE(line->starts_with(prefix)) << *line;
    address_ = line->substr(prefix.size());
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    stub_ = pb::ChipService::NewStub(channel_);
  }

  CommandResult Photonctl(std::vector<std::string> args) {
    args.insert(args.begin(), {PHOTONCTL_PATH, "--address", address_});
    return RunCommand(args);
  }

  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub_.get()->*method)(&context, request, &response);
  }

  // Sets the inputs, then the phases, then reads the detectors.
  pb::ReadDetectorsResponse ProgramAndRead(const std::vector<double>& phases,
                                           const std::vector<double>& amplitudes,
                                           std::uint32_t averages) {
    pb::SetInputsRequest inputs_request;
    inputs_request.mutable_amplitudes()->Assign(amplitudes.begin(), amplitudes.end());
    pb::SetInputsResponse inputs_response;
    EXPECT_TRUE(Call(&pb::ChipService::Stub::SetInputs, inputs_request, inputs_response).ok());
    pb::SetPhasesRequest phases_request;
    phases_request.mutable_phases_rad()->Assign(phases.begin(), phases.end());
    pb::SetPhasesResponse phases_response;
    EXPECT_TRUE(Call(&pb::ChipService::Stub::SetPhases, phases_request, phases_response).ok());
    pb::ReadDetectorsRequest read_request;
    read_request.set_averages(averages);
    pb::ReadDetectorsResponse reading;
    EXPECT_TRUE(Call(&pb::ChipService::Stub::ReadDetectors, read_request, reading).ok());
    return reading;
  }

  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::unique_ptr<Subprocess> daemon_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ChipService::Stub> stub_;
};

}  // namespace phc
