#include "daemon/training/in_situ_session.h"

#include "absl/strings/str_cat.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/diff/in_situ_run.h"
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

trainers::TrainingProgress ProgressOf(const SessionStatus& saved) {
  trainers::TrainingProgress progress;
  progress.step = saved.step();
  progress.loss_evaluations = saved.loss_evaluations();
  progress.loss = saved.loss();
  progress.test_accuracy = saved.test_accuracy();
  return progress;
}

class InSituSessionTrainer final : public SessionTrainer {
 public:
  explicit InSituSessionTrainer(ChipController& controller) : controller_(controller) {}

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
  std::unique_ptr<ControllerOracle> oracle;
  std::unique_ptr<trainers::diff::OracleMeasurer> measurer;
  std::unique_ptr<trainers::diff::InSituRun> run;
  trainers::TrainingProgress progress_;

 private:
  ChipController& controller_;
  double power_sum_mw_ = 0.0;
};

}  // namespace

bool IsInSitu(const SessionConfig& c) {
  return c.algorithm().name() == "pat" || c.algorithm().name() == "dat";
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
  for (int i = 0; i + 1 < c.widths_size(); ++i) {
    if (c.widths(i) != mesh.size) {
      return absl::InvalidArgumentError(absl::StrCat("widths[", i, "] = ", c.widths(i),
                                                     ": every optical block is the ", mesh.size,
                                                     "-mode mesh ", mesh.name));
    }
  }
  return trainers::diff::ValidateInSituConfig(InSituFrom(c));
}

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeInSituTrainer(
    ChipController& controller, const SessionConfig& c, const SessionCheckpoint* resume_from,
    SessionStatus& status) {
  const trainers::diff::InSituConfig config = InSituFrom(c);
  auto t = std::make_unique<InSituSessionTrainer>(controller);
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
