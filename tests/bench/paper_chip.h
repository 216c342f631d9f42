// The simulated chip the deployed-model benches run on: a chip made for the
// model (chip-for-model) with onn_svd8x24's instruments, under the noise
// model of Gu et al. (AAAI 2021), DAT's error model (Zheng et al. 2023) or
// onn_svd8x24's own fabrication errors, driven through the daemon's
// ChipController (SimBench).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "tests/sim_bench.h"

namespace phc::testing {

struct PaperChipOptions {
  std::string noise = "paper";
  double noise_scale = 1.0;
  double dat_sigma = 0.04;  // noise "dat": sigma_BS = sigma_PS
  std::uint64_t chip_seed = 1;
  double budget_per_phase_mw = 50.0;
};

inline void AddPaperChipOptions(CLI::App& app, PaperChipOptions& o) {
  app.add_option("--noise", o.noise,
                 "paper: Gu et al.'s noise model; dat: DAT's static coupler and phase errors; "
                 "chip: onn_svd8x24's errors")
      ->check(CLI::IsMember({"paper", "dat", "chip"}))
      ->capture_default_str();
  app.add_option("--noise-scale", o.noise_scale, "paper: phase error and crosstalk times this")
      ->capture_default_str();
  app.add_option("--sigma", o.dat_sigma, "dat: coupler and phase error std (rad)")
      ->capture_default_str();
  app.add_option("--chip-seed", o.chip_seed, "draws the simulated chip")->capture_default_str();
  app.add_option("--budget-per-phase-mw", o.budget_per_phase_mw)->capture_default_str();
}

struct PaperChip {
  photonic::v1::ChipDescription description;
  trainers::onn::ChipPlacement placement;
  photonsim::ChipLayout layout;
  SimBench bench;
};

inline absl::StatusOr<PaperChip> MakePaperChip(const trainers::onn::Model& model,
                                               const PaperChipOptions& o) {
  namespace onn = trainers::onn;
  absl::StatusOr<photonic::v1::ChipDescription> instruments =
      LoadChipDescription(std::string(PHC_SOURCE_DIR) + "/deploy/chips/onn_svd8x24.textproto");
  if (!instruments.ok()) return instruments.status();
  instruments->set_max_total_heater_power_mw(o.budget_per_phase_mw *
                                             photonsim::BuildChipLayout(*instruments).phase_count);
  photonic::v1::ChipDescription chip = onn::ChipForModel(model, *instruments);
  if (o.noise == "paper") onn::UsePaperNoiseModel(chip, o.noise_scale);
  if (o.noise == "dat") onn::UseDatErrorModel(chip, o.dat_sigma);
  absl::StatusOr<onn::ChipPlacement> placement = onn::PlaceModel(model, chip);
  if (!placement.ok()) return placement.status();
  photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  absl::StatusOr<SimBench> bench = MakeSimBench(chip, o.chip_seed);
  if (!bench.ok()) return bench.status();
  return PaperChip{chip, *std::move(placement), std::move(layout), *std::move(bench)};
}

}  // namespace phc::testing
