#include "daemon/training/in_situ_session.h"

#include "absl/strings/str_cat.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/dfa_run.h"
#include "phc/trainers/diff/in_situ_run.h"
#include "phc/trainers/diff/ntkd_run.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::SessionCheckpoint;
using photonic::v1::SessionConfig;
using photonic::v1::SessionStatus;

namespace {

trainers::diff::InSituConfig InSituFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  trainers::diff::InSituConfig d;
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

trainers::diff::NtkdConfig NtkdFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  trainers::diff::NtkdConfig d;
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

trainers::TrainingProgress ProgressOf(const SessionStatus& saved) {
  trainers::TrainingProgress progress;
  progress.step = saved.step();
  progress.loss_evaluations = saved.loss_evaluations();
  progress.loss = saved.loss();
  progress.test_accuracy = saved.test_accuracy();
  return progress;
}

// A session over a run (InSituRun or NtkdRun) whose model uses the chip's
// mesh through a ControllerOracle.
template <typename Run>
class RunSessionTrainer final : public SessionTrainer {
 public:
  explicit RunSessionTrainer(ChipController& controller) : controller_(controller) {}

  absl::StatusOr<trainers::TrainingProgress> Step() override {
    absl::StatusOr<trainers::TrainingProgress> p = run->Step();
    if (!p.ok()) return p;
    progress_ = *p;
    progress_.cost = oracle->cost();
    progress_.heater_power_mw = controller_.GetPhases().total_heater_power_mw;
    power_sum_mw_ += progress_.heater_power_mw;
    progress_.mean_heater_power_mw = power_sum_mw_ / static_cast<double>(progress_.step);
    return progress_;
  }
  const trainers::TrainingProgress& progress() const override { return progress_; }
  bool done() const override { return run->done(); }
  trainers::StopReason stop_reason() const override { return run->stop_reason(); }
  trainers::OracleCost cost() const override { return oracle->cost(); }
  void Save(SessionCheckpoint& checkpoint) const override {
    const std::vector<double> params = run->SaveParameters();
    checkpoint.mutable_params_rad()->Assign(params.begin(), params.end());
    const std::vector<double> state = run->SaveOptimizerState();
    checkpoint.mutable_optimizer_state()->Assign(state.begin(), state.end());
    checkpoint.set_power_sum_mw(power_sum_mw_);
  }
  void RestorePowerSum(double power_sum_mw) { power_sum_mw_ = power_sum_mw; }

  std::unique_ptr<trainers::TrainTestSplit> data;
  std::unique_ptr<trainers::TrainTestSplit> teacher_data;  // ntkd: what the teacher sees
  std::unique_ptr<ControllerOracle> oracle;
  std::unique_ptr<trainers::diff::OracleMeasurer> measurer;
  std::unique_ptr<Run> run;
  trainers::TrainingProgress progress_;

 private:
  ChipController& controller_;
  double power_sum_mw_ = 0.0;
};

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeNtkdTrainer(
    ChipController& controller, const SessionConfig& c, const SessionCheckpoint* resume_from,
    SessionStatus& status) {
  const trainers::diff::NtkdConfig config = NtkdFrom(c);
  auto t = std::make_unique<RunSessionTrainer<trainers::diff::NtkdRun>>(controller);
  absl::StatusOr<trainers::TrainTestSplit> data = trainers::LoadTrainingData(
      c.dataset(), config.modes, config.classes, c.train_samples(), c.test_samples(), c.seed());
  if (!data.ok()) return data.status();
  t->data = std::make_unique<trainers::TrainTestSplit>(*std::move(data));
  // The teacher sees the images (synthetic data: the same features).
  if (c.dataset() == "synthetic") {
    t->teacher_data = std::make_unique<trainers::TrainTestSplit>(*t->data);
  } else {
    absl::StatusOr<trainers::TrainTestSplit> pixels = trainers::LoadDfaData(
        c.dataset(), 28 * 28, config.classes, c.train_samples(), c.test_samples(), c.seed());
    if (!pixels.ok()) return pixels.status();
    t->teacher_data = std::make_unique<trainers::TrainTestSplit>(*std::move(pixels));
  }
  t->oracle = std::make_unique<ControllerOracle>(controller, c.detector_averages());
  t->measurer = std::make_unique<trainers::diff::OracleMeasurer>(
      *t->oracle, c.first_circuit(), controller.chip().laser_power_mw());
  std::vector<double> saved;
  if (resume_from) {
    saved.assign(resume_from->params_rad().begin(), resume_from->params_rad().end());
  } else {
    spdlog::info("training session {}: teacher and distilled student in silico", status.id());
  }
  auto run = trainers::diff::NtkdRun::Create(config, t->data->train, t->data->test,
                                             t->teacher_data->train, t->teacher_data->test,
                                             *t->measurer, resume_from ? &saved : nullptr);
  if (!run.ok()) return run.status();
  t->run = *std::move(run);
  status.set_trained_phases(t->run->parameter_count());
  status.set_dataset_source(t->data->source);
  if (resume_from) {
    const std::vector<double> state(resume_from->optimizer_state().begin(),
                                    resume_from->optimizer_state().end());
    if (absl::Status s = t->run->Restore(ProgressOf(resume_from->status()), state); !s.ok()) {
      return s;
    }
    t->progress_ = t->run->progress();
    t->RestorePowerSum(resume_from->power_sum_mw());
  } else {
    spdlog::info(
        "training session {}: teacher {:.4f}, student in silico {:.4f}, on the chip {:.4f}",
        status.id(), t->run->teacher_accuracy(), t->run->student_accuracy(),
        t->run->fabricated_accuracy());
    status.set_initial_test_accuracy(t->run->fabricated_accuracy());
  }
  return t;
}

}  // namespace

bool IsInSitu(const SessionConfig& c) {
  return c.algorithm().name() == "pat" || c.algorithm().name() == "dat" ||
         c.algorithm().name() == "ntkd";
}

absl::Status ValidateInSituSession(const ChipController& controller, const SessionConfig& c) {
  if (c.widths_size() < 2) {
    return absl::InvalidArgumentError(
        "widths: one entry per optical block (each the chip mesh's size), then the classes");
  }
  const auto& circuits = controller.layout().circuits;
  if (c.first_circuit() < 0 || c.first_circuit() >= static_cast<int>(circuits.size()) ||
      circuits[c.first_circuit()].kind != photonsim::CircuitKind::kMesh) {
    return absl::InvalidArgumentError(absl::StrCat("first_circuit: ", c.first_circuit(),
                                                   " is not an MZI mesh of chip ",
                                                   controller.chip().name()));
  }
  const photonsim::CircuitLayout& mesh = circuits[c.first_circuit()];
  if (mesh.spec.mesh().topology() != photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
    return absl::InvalidArgumentError("first_circuit: pat and dat model Clements meshes");
  }
  const bool ntkd = c.algorithm().name() == "ntkd";
  if (ntkd && c.widths_size() < 3) {
    return absl::InvalidArgumentError(
        "widths: ntkd needs the mesh size per optical block, the hidden units, the classes");
  }
  for (int i = 0; i + (ntkd ? 2 : 1) < c.widths_size(); ++i) {
    if (c.widths(i) != mesh.size) {
      return absl::InvalidArgumentError(absl::StrCat("widths[", i, "] = ", c.widths(i),
                                                     ": every optical block is the ", mesh.size,
                                                     "-mode mesh ", mesh.name));
    }
  }
  if (ntkd) return trainers::diff::ValidateNtkdConfig(NtkdFrom(c));
  return trainers::diff::ValidateInSituConfig(InSituFrom(c));
}

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeInSituTrainer(
    ChipController& controller, const SessionConfig& c, const SessionCheckpoint* resume_from,
    SessionStatus& status) {
  const trainers::diff::InSituConfig config = InSituFrom(c);
  if (c.algorithm().name() == "ntkd") return MakeNtkdTrainer(controller, c, resume_from, status);
  auto t = std::make_unique<RunSessionTrainer<trainers::diff::InSituRun>>(controller);
  absl::StatusOr<trainers::TrainTestSplit> data = trainers::LoadTrainingData(
      c.dataset(), config.modes, config.classes, c.train_samples(), c.test_samples(), c.seed());
  if (!data.ok()) return data.status();
  t->data = std::make_unique<trainers::TrainTestSplit>(*std::move(data));
  t->oracle = std::make_unique<ControllerOracle>(controller, c.detector_averages());
  t->measurer = std::make_unique<trainers::diff::OracleMeasurer>(
      *t->oracle, c.first_circuit(), controller.chip().laser_power_mw());
  std::vector<double> params;
  if (resume_from)
    params.assign(resume_from->params_rad().begin(), resume_from->params_rad().end());
  if (!resume_from) {
    spdlog::info("training session {}: pretraining in silico for {} epochs", status.id(),
                 config.pretrain_epochs);
  }
  absl::StatusOr<std::unique_ptr<trainers::diff::InSituRun>> run =
      trainers::diff::InSituRun::Create(config, t->data->train, t->data->test, *t->measurer,
                                        resume_from ? &params : nullptr);
  if (!run.ok()) return run.status();
  t->run = *std::move(run);
  status.set_trained_phases(t->run->parameter_count());
  status.set_dataset_source(t->data->source);
  if (resume_from) {
    const std::vector<double> state(resume_from->optimizer_state().begin(),
                                    resume_from->optimizer_state().end());
    if (absl::Status s = t->run->Restore(ProgressOf(resume_from->status()), params, state);
        !s.ok()) {
      return s;
    }
    t->progress_ = t->run->progress();
    t->RestorePowerSum(resume_from->power_sum_mw());
  } else {
    spdlog::info("training session {}: in silico model accuracy {:.4f}", status.id(),
                 t->run->model_accuracy());
    absl::StatusOr<double> initial = t->run->Evaluate(t->data->test, config.eval_samples);
    if (!initial.ok()) return initial.status();
    status.set_initial_test_accuracy(*initial);
  }
  return t;
}

}  // namespace phc::daemon
