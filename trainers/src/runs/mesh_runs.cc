// Sessions whose model runs its optical blocks on the chip's mesh at
// first_circuit (time-multiplexed): pat and dat (in silico pretraining, then
// adaptation on the chip) and ntkd (distillation in silico, then the digital
// backend fine-tuned on the chip's measured outputs).
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "phc/trainers/dfa_run.h"
#include "phc/trainers/diff/in_situ_run.h"
#include "phc/trainers/diff/ntkd_run.h"
#include "session_runs.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

diff::InSituConfig InSituFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  diff::InSituConfig d;
  d.method = a.name();
  d.modes = c.widths_size() > 0 ? c.widths(0) : 0;
  d.blocks = c.widths_size() - 1;
  d.classes = c.widths_size() > 0 ? c.widths(c.widths_size() - 1) : 0;
  if (c.batch_size() > 0) d.batch_size = c.batch_size();
  if (a.learning_rate() != 0.0) d.learning_rate = a.learning_rate();
  if (a.has_prediction_learning_rate()) d.prediction_learning_rate = a.prediction_learning_rate();
  if (a.pretrain_epochs() > 0) d.pretrain_epochs = a.pretrain_epochs();
  if (a.prediction_warmup_steps() > 0) d.prediction_warmup_steps = a.prediction_warmup_steps();
  if (c.max_steps() > 0) d.max_steps = c.max_steps();
  d.target_accuracy = c.target_accuracy();
  if (c.eval_every() > 0) d.eval_every = c.eval_every();
  d.eval_samples = c.test_samples() > 0 ? c.test_samples() : 500;
  d.seed = c.seed();
  return d;
}

diff::NtkdConfig NtkdFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  diff::NtkdConfig d;
  const int n = c.widths_size();
  d.modes = n > 0 ? c.widths(0) : 0;
  d.blocks = n - 2;
  d.hidden = n >= 2 ? c.widths(n - 2) : 0;
  d.classes = n >= 1 ? c.widths(n - 1) : 0;
  if (a.has_ntk_weight()) d.ntk_weight = a.ntk_weight();
  if (a.teacher_epochs() > 0) d.teacher_epochs = a.teacher_epochs();
  if (a.pretrain_epochs() > 0) d.student_epochs = a.pretrain_epochs();
  if (a.learning_rate() != 0.0) d.finetune_learning_rate = a.learning_rate();
  if (c.batch_size() > 0) d.batch_size = c.batch_size();
  if (c.max_steps() > 0) d.max_steps = c.max_steps();
  d.target_accuracy = c.target_accuracy();
  if (c.eval_every() > 0) d.eval_every = c.eval_every();
  d.seed = c.seed();
  return d;
}

// The optical blocks fit the mesh at first_circuit: widths are the mesh's
// size for each block, then `digital` more entries (the classes; ntkd: the
// backend's hidden units and the classes).
absl::Status ValidateMeshBlocks(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                                const photonsim::ChipLayout& layout, int digital) {
  if (c.widths_size() < 2) {
    return absl::InvalidArgumentError(
        "widths: one entry per optical block (each the chip mesh's size), then the classes");
  }
  const auto& circuits = layout.circuits;
  if (c.first_circuit() < 0 || c.first_circuit() >= static_cast<int>(circuits.size()) ||
      circuits[c.first_circuit()].kind != photonsim::CircuitKind::kMesh) {
    return absl::InvalidArgumentError(absl::StrCat("first_circuit: ", c.first_circuit(),
                                                   " is not an MZI mesh of chip ", chip.name()));
  }
  const photonsim::CircuitLayout& mesh = circuits[c.first_circuit()];
  if (mesh.spec.mesh().topology() != photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
    return absl::InvalidArgumentError("first_circuit: pat, dat and ntkd model Clements meshes");
  }
  if (digital == 2 && c.widths_size() < 3) {
    return absl::InvalidArgumentError(
        "widths: ntkd needs the mesh size per optical block, the hidden units, the classes");
  }
  for (int i = 0; i + digital < c.widths_size(); ++i) {
    if (c.widths(i) != mesh.size) {
      return absl::InvalidArgumentError(absl::StrCat("widths[", i, "] = ", c.widths(i),
                                                     ": every optical block is the ", mesh.size,
                                                     "-mode mesh ", mesh.name));
    }
  }
  return absl::OkStatus();
}

// The data with `features` per sample.
absl::Status LoadData(const SessionConfig& c, int features, int classes, const RunOptions& options,
                      RunResources& resources) {
  absl::StatusOr<TrainTestSplit> data =
      LoadTrainingData(c.dataset(), features, classes, c.train_samples(), c.test_samples(),
                       c.seed(), options.fashion_mnist_dir);
  if (!data.ok()) return data.status();
  resources.data = std::make_unique<TrainTestSplit>(*std::move(data));
  return absl::OkStatus();
}

// Once the data is loaded: the chip's accounting starts and its mesh
// becomes the model's physical system.
void AttachChip(const SessionConfig& c, RunChip& chip, const RunOptions& options,
                RunResources& resources) {
  NoteDataLoaded(options, *resources.data);
  chip.StartAccounting();
  resources.measurer = std::make_unique<diff::OracleMeasurer>(chip.oracle(), c.first_circuit(),
                                                              chip.description().laser_power_mw());
}

}  // namespace

absl::Status ValidateInSitu(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                            const photonsim::ChipLayout& layout) {
  if (!c.from_model().empty()) return ValidateInSituFromModel(c);
  if (absl::Status s = ValidateMeshBlocks(c, chip, layout, 1); !s.ok()) return s;
  return diff::ValidateInSituConfig(InSituFrom(c));
}

absl::Status ValidateNtkd(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                          const photonsim::ChipLayout& layout) {
  if (!c.from_model().empty()) return ValidateNtkdFromModel(c);
  if (!c.algorithm().teacher_model().empty()) {
    return absl::InvalidArgumentError(
        "teacher_model: only with from_model (an ntkd session of widths trains its own teacher)");
  }
  if (absl::Status s = ValidateMeshBlocks(c, chip, layout, 2); !s.ok()) return s;
  return diff::ValidateNtkdConfig(NtkdFrom(c));
}

absl::StatusOr<StartedRun> CreateInSitu(const SessionConfig& c, RunChip& chip,
                                        const RunOptions& options) {
  if (!c.from_model().empty()) return CreateInSituFromModel(c, chip, options);
  const diff::InSituConfig config = InSituFrom(c);
  RunResources resources;
  if (absl::Status s = LoadData(c, config.modes, config.classes, options, resources); !s.ok()) {
    return s;
  }
  AttachChip(c, chip, options, resources);
  const Dataset& test = resources.data->test;
  if (options.resume_from == nullptr) {
    Note(options, absl::StrCat("pretraining in silico for ", config.pretrain_epochs, " epochs"));
  }
  absl::StatusOr<std::unique_ptr<diff::InSituRun>> created = diff::InSituRun::Create(
      config, resources.data->train, test, *resources.measurer,
      options.resume_from != nullptr ? &options.resume_from->params : nullptr);
  if (!created.ok()) return created.status();
  diff::InSituRun* run = created->get();
  return Started(std::move(resources), *std::move(created), &chip, run->parameter_count(), options,
                 [&]() -> absl::StatusOr<double> {
                   Note(options,
                        absl::StrFormat("in silico model accuracy %.4f", run->model_accuracy()));
                   return run->Evaluate(test, config.eval_samples);
                 });
}

absl::StatusOr<StartedRun> CreateNtkd(const SessionConfig& c, RunChip& chip,
                                      const RunOptions& options) {
  if (!c.from_model().empty()) return CreateNtkdFromModel(c, chip, options);
  const diff::NtkdConfig config = NtkdFrom(c);
  RunResources resources;
  if (absl::Status s = LoadData(c, config.modes, config.classes, options, resources); !s.ok()) {
    return s;
  }
  // The teacher sees the images (synthetic data: the same features).
  if (c.dataset() == "synthetic") {
    resources.teacher_data = std::make_unique<TrainTestSplit>(*resources.data);
  } else {
    absl::StatusOr<TrainTestSplit> pixels =
        LoadDfaData(c.dataset(), 28 * 28, config.classes, c.train_samples(), c.test_samples(),
                    c.seed(), options.fashion_mnist_dir);
    if (!pixels.ok()) return pixels.status();
    resources.teacher_data = std::make_unique<TrainTestSplit>(*std::move(pixels));
  }
  AttachChip(c, chip, options, resources);
  if (options.resume_from == nullptr) Note(options, "teacher and distilled student in silico");
  // A checkpoint is checked before the chip measures the frontend.
  absl::StatusOr<std::unique_ptr<diff::NtkdRun>> created = diff::NtkdRun::Create(
      config, resources.data->train, resources.data->test, resources.teacher_data->train,
      resources.teacher_data->test, *resources.measurer, options.resume_from);
  if (!created.ok()) return created.status();
  diff::NtkdRun* run = created->get();
  return Started(std::move(resources), *std::move(created), &chip, run->parameter_count(), options,
                 [&]() -> absl::StatusOr<double> {
                   Note(options,
                        absl::StrFormat("teacher %.4f, student in silico %.4f, on the chip %.4f",
                                        run->teacher_accuracy(), run->student_accuracy(),
                                        run->fabricated_accuracy()));
                   return run->fabricated_accuracy();
                 });
}

}  // namespace phc::trainers::runs
