// A ChipController on an in-process SimChip, for tests and benches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/config.h"
#include "daemon/state_io.h"
#include "phc/drivers/sim_drivers.h"
#include "photonsim/chip_description.h"
#include "photonsim/sim_chip.h"

namespace phc::testing {

struct SimBench {
  std::shared_ptr<photonsim::SimChip> sim;  // hidden truth for comparisons
  std::unique_ptr<daemon::ChipController> controller;
};

inline absl::StatusOr<SimBench> MakeSimBench(const photonic::v1::ChipDescription& description,
                                             std::uint64_t seed) {
  absl::StatusOr<std::unique_ptr<photonsim::SimChip>> sim =
      photonsim::SimChip::Create(description, seed);
  if (!sim.ok()) return sim.status();
  SimBench bench;
  bench.sim = std::shared_ptr<photonsim::SimChip>(*std::move(sim));
  absl::StatusOr<std::unique_ptr<daemon::ChipController>> controller =
      daemon::ChipController::Create(
          description, drivers::MakeSimDrivers(bench.sim, description.heater().max_voltage_v(),
                                               description.modulator().max_voltage_v()));
  if (!controller.ok()) return controller.status();
  bench.controller = *std::move(controller);
  return bench;
}

// A chip description from a protobuf text-format file, validated.
inline absl::StatusOr<photonic::v1::ChipDescription> LoadChipDescription(
    const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = daemon::ReadFileToString(path);
  if (!text.ok()) return text.status();
  photonic::v1::ChipDescription description;
  if (absl::Status s = phc::ParseTextProto(*text, path.string(), description); !s.ok()) {
    return s;
  }
  if (absl::Status s = photonsim::ValidateChipDescription(description); !s.ok()) return s;
  return description;
}

}  // namespace phc::testing
