// chip-for-model: writes a chip description sized for a model (as many
// coherent SVD cores of its size as it needs, bipolar modulators), taking the
// heater, modulator, detector, fabrication, thermal and TEC specs of an
// instruments chip. The heater budget per phase of the instruments chip is
// kept, or set with --budget-per-phase-mw. --noise paper replaces the
// fabrication and thermal specs with the sparse-ZO paper's noise model
// (UsePaperNoiseModel, chip_execution.h).
//
//   chip-for-model --model deploy/models/cnn_fmnist.textproto
//       --instruments deploy/chips/onn_svd8x24.textproto > cnn_fmnist_chip.textproto
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "google/protobuf/text_format.h"
#include "phc/proto/text_proto.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "photonsim/chip_description.h"
#include "photonsim/chip_layout.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "chip-for-model: %s\n", std::string(status.message()).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a chip description sized for an ONN model"};
  std::string model_path, instruments_path;
  double budget_per_phase_mw = 0.0;
  app.add_option("--model", model_path, "ModelSpec text file")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--instruments", instruments_path, "ChipDescription text file to take specs from")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--budget-per-phase-mw", budget_per_phase_mw,
                 "total heater budget per phase (0: the instruments chip's)");
  std::string noise = "instruments";
  app.add_option("--noise", noise,
                 "instruments: the instruments chip's fabrication and thermal errors; paper: "
                 "Gu et al.'s (AAAI 2021) phase error and crosstalk")
      ->check(CLI::IsMember({"instruments", "paper"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const absl::StatusOr<photonic::v1::ModelSpec> spec =
      phc::trainers::onn::LoadModelSpec(model_path);
  if (!spec.ok()) return Fail(spec.status());
  const absl::StatusOr<phc::trainers::onn::Model> model =
      phc::trainers::onn::Model::Build(*spec, phc::trainers::onn::Realisation::kOptical, 1);
  if (!model.ok()) return Fail(model.status());
  std::ifstream in(instruments_path);
  std::stringstream text;
  text << in.rdbuf();
  photonic::v1::ChipDescription instruments;
  if (absl::Status s = phc::ParseTextProto(text.str(), instruments_path, instruments); !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = photonsim::ValidateChipDescription(instruments); !s.ok()) return Fail(s);
  if (budget_per_phase_mw > 0.0) {
    instruments.set_max_total_heater_power_mw(budget_per_phase_mw *
                                              photonsim::BuildChipLayout(instruments).phase_count);
  }
  photonic::v1::ChipDescription chip = phc::trainers::onn::ChipForModel(*model, instruments);
  if (noise == "paper") {
    phc::trainers::onn::UsePaperNoiseModel(chip);
    chip.set_name(chip.name() + "_paper_noise");
  }
  if (absl::Status s = photonsim::ValidateChipDescription(chip); !s.ok()) return Fail(s);
  std::string out;
  google::protobuf::TextFormat::PrintToString(chip, &out);
  std::printf(
      "# proto-file: proto/photonic/v1/config.proto\n"
      "# proto-message: photonic.v1.ChipDescription\n"
      "# Written by chip-for-model for model %s (%d coherent SVD cores of size %u, %d phases)\n"
      "# from the instruments of %s%s.\n%s",
      spec->name().c_str(), model->core_count(), spec->core_size(), model->phase_count(),
      instruments.name().c_str(),
      noise == "paper" ? ", with the sparse-ZO paper's noise model (--noise paper)" : "",
      out.c_str());
  return 0;
}
