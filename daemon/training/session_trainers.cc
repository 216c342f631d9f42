#include "daemon/training/session_trainers.h"

#include "absl/strings/str_cat.h"
#include "daemon/training/controller_oracle.h"
#include "daemon/training/controller_weight_bank.h"
#include "daemon/training/in_situ_session.h"
#include "phc/trainers/algorithms.h"
#include "phc/trainers/dfa_run.h"
#include "phc/trainers/model_oracle.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::SessionCheckpoint;
using photonic::v1::SessionConfig;
using photonic::v1::SessionStatus;

namespace {

trainers::AlgorithmConfig AlgorithmFrom(const SessionConfig& config) {
  const photonic::v1::TrainingAlgorithm& a = config.algorithm();
  return {.name = a.name(),
          .learning_rate = a.learning_rate(),
          .perturbation_rad = a.perturbation_rad(),
          .samples_per_step = a.samples_per_step(),
          .param_sparsity = a.param_sparsity(),
          .grad_sparsity = a.grad_sparsity(),
          .power_aware = !a.disable_power_aware(),
          .power_budget_mw = config.power_budget_mw(),
          .seed = config.seed()};
}

trainers::DfaConfig DfaFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  trainers::DfaConfig d;
  d.widths.assign(c.widths().begin(), c.widths().end());
  if (!a.feedback().empty()) d.feedback = a.feedback();
  if (a.learning_rate() != 0.0) d.learning_rate = a.learning_rate();
  if (a.momentum() != 0.0) d.momentum = a.momentum();
  if (a.has_feedback_noise_mean()) d.noise_mean = a.feedback_noise_mean();
  if (a.has_feedback_noise_std()) d.noise_std = a.feedback_noise_std();
  d.batch_size = c.batch_size();
  d.max_steps = c.max_steps();
  d.target_accuracy = c.target_accuracy();
  d.eval_every = c.eval_every();
  d.eval_samples = c.test_samples();
  d.seed = c.seed();
  return d;
}

bool IsDfa(const SessionConfig& c) { return c.algorithm().name() == "dfa"; }

trainers::TrainingProgress ProgressFrom(const SessionStatus& saved) {
  trainers::TrainingProgress progress;
  progress.step = saved.step();
  progress.loss_evaluations = saved.loss_evaluations();
  progress.loss = saved.loss();
  progress.test_accuracy = saved.test_accuracy();
  progress.heater_power_mw = saved.heater_power_mw();
  progress.mean_heater_power_mw = saved.mean_heater_power_mw();
  return progress;
}

class ZoTrainer final : public SessionTrainer {
 public:
  absl::StatusOr<trainers::TrainingProgress> Step() override { return run->Step(); }
  const trainers::TrainingProgress& progress() const override { return run->progress(); }
  bool done() const override { return run->done(); }
  trainers::StopReason stop_reason() const override { return run->stop_reason(); }
  trainers::OracleCost cost() const override { return oracle->cost(); }
  void Save(SessionCheckpoint& checkpoint) const override {
    checkpoint.mutable_params_rad()->Assign(run->params().begin(), run->params().end());
    const std::vector<double> base = run->FullPhases(run->params());
    checkpoint.mutable_base_phases_rad()->Assign(base.begin(), base.end());
    const std::vector<double> state = run->optimizer().SaveState();
    checkpoint.mutable_optimizer_state()->Assign(state.begin(), state.end());
    checkpoint.set_power_sum_mw(run->power_sum_mw());
  }

  std::unique_ptr<trainers::TrainTestSplit> data;
  std::unique_ptr<trainers::OnnModel> model;
  std::unique_ptr<ControllerOracle> oracle;
  std::unique_ptr<trainers::TrainingRun> run;
};

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeZoTrainer(ChipController& controller,
                                                              const SessionConfig& c,
                                                              const SessionCheckpoint* resume_from,
                                                              SessionStatus& status) {
  auto t = std::make_unique<ZoTrainer>();
  absl::StatusOr<trainers::TrainTestSplit> data =
      trainers::LoadTrainingData(c.dataset(), c.widths(0), c.widths(c.widths_size() - 1),
                                 c.train_samples(), c.test_samples(), c.seed());
  if (!data.ok()) return data.status();
  t->data = std::make_unique<trainers::TrainTestSplit>(*std::move(data));
  absl::StatusOr<trainers::OnnModel> model = trainers::OnnModel::Create(
      controller.layout(),
      {{c.widths().begin(), c.widths().end()}, c.temperature(), c.first_circuit()});
  if (!model.ok()) return model.status();
  t->model = std::make_unique<trainers::OnnModel>(*std::move(model));
  t->oracle = std::make_unique<ControllerOracle>(controller, c.detector_averages());
  absl::StatusOr<std::unique_ptr<trainers::ZoOptimizer>> optimizer =
      trainers::MakeOptimizer(AlgorithmFrom(c), *t->model, *t->oracle);
  if (!optimizer.ok()) return optimizer.status();
  std::vector<double> base, params;
  if (resume_from) {
    base.assign(resume_from->base_phases_rad().begin(), resume_from->base_phases_rad().end());
    params.assign(resume_from->params_rad().begin(), resume_from->params_rad().end());
    if (static_cast<int>(base.size()) != controller.phase_count() ||
        params.size() != t->model->trainable_phases().size()) {
      return absl::DataLossError("the checkpoint does not fit the chip");
    }
  } else {
    // The session starts from the phases on the chip (a mapped model, or
    // every heater off).
    base = controller.GetPhases().phases_rad;
    for (int index : t->model->trainable_phases()) params.push_back(base[index]);
  }
  t->run = std::make_unique<trainers::TrainingRun>(
      *t->oracle, *t->model, t->data->train, t->data->test, *std::move(optimizer),
      trainers::TrainingOptions{.batch_size = c.batch_size(),
                                .max_steps = c.max_steps(),
                                .max_loss_evaluations = c.max_loss_evaluations(),
                                .target_accuracy = c.target_accuracy(),
                                .eval_every = c.eval_every(),
                                .eval_samples = c.test_samples(),
                                .power_budget_mw = c.power_budget_mw(),
                                .seed = c.seed()},
      base, params);
  status.set_trained_phases(static_cast<int>(t->model->trainable_phases().size()));
  status.set_dataset_source(t->data->source);
  if (resume_from) {
    t->run->Restore(ProgressFrom(resume_from->status()), params, resume_from->power_sum_mw());
    t->run->optimizer().RestoreState(std::vector<double>(resume_from->optimizer_state().begin(),
                                                         resume_from->optimizer_state().end()));
  } else {
    absl::StatusOr<double> initial = t->run->Evaluate(t->data->test, c.test_samples());
    if (!initial.ok()) return initial.status();
    status.set_initial_test_accuracy(*initial);
  }
  return t;
}

// DFA in the daemon. The network is digital; with microring feedback every
// B e product is read from the chip's weight bank, whose heater power and
// energy are accounted like any session's.
class DfaTrainer final : public SessionTrainer {
 public:
  explicit DfaTrainer(ChipController& controller)
      : controller_(controller),
        energy_start_mj_(controller.GetPhases().heater_energy_mj),
        time_start_(controller.ChipTime()) {}

  absl::StatusOr<trainers::TrainingProgress> Step() override {
    absl::StatusOr<trainers::TrainingProgress> p = run->Step();
    if (!p.ok()) return p;
    progress_ = *p;
    progress_.heater_power_mw = controller_.GetPhases().total_heater_power_mw;
    power_sum_mw_ += progress_.heater_power_mw;
    progress_.mean_heater_power_mw = power_sum_mw_ / static_cast<double>(progress_.step);
    return progress_;
  }
  const trainers::TrainingProgress& progress() const override { return progress_; }
  bool done() const override { return run->done(); }
  trainers::StopReason stop_reason() const override { return run->stop_reason(); }
  trainers::OracleCost cost() const override {
    trainers::OracleCost c;
    c.queries = bank ? bank->readings() : 0;
    c.heater_energy_mj = controller_.GetPhases().heater_energy_mj - energy_start_mj_;
    c.chip_seconds = std::chrono::duration<double>(controller_.ChipTime() - time_start_).count();
    return c;
  }
  void Save(SessionCheckpoint& checkpoint) const override {
    const std::vector<float> state = run->SaveState();
    checkpoint.mutable_network_state()->Assign(state.begin(), state.end());
    checkpoint.set_power_sum_mw(power_sum_mw_);
  }
  void RestorePowerSum(double power_sum_mw) { power_sum_mw_ = power_sum_mw; }

  std::unique_ptr<trainers::TrainTestSplit> data;
  std::unique_ptr<ControllerWeightBank> bank;
  std::unique_ptr<trainers::DfaRun> run;
  trainers::TrainingProgress progress_;

 private:
  ChipController& controller_;
  double energy_start_mj_;
  std::chrono::nanoseconds time_start_;
  double power_sum_mw_ = 0.0;  // over every step, across restarts
};

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeDfaTrainer(ChipController& controller,
                                                               const SessionConfig& c,
                                                               const SessionCheckpoint* resume_from,
                                                               SessionStatus& status) {
  const trainers::DfaConfig config = DfaFrom(c);
  auto t = std::make_unique<DfaTrainer>(controller);
  absl::StatusOr<trainers::TrainTestSplit> data =
      trainers::LoadDfaData(c.dataset(), config.widths.front(), config.widths.back(),
                            c.train_samples(), c.test_samples(), c.seed());
  if (!data.ok()) return data.status();
  t->data = std::make_unique<trainers::TrainTestSplit>(*std::move(data));
  if (config.feedback == "microring") {
    absl::StatusOr<ControllerWeightBank> bank = ControllerWeightBank::Create(controller);
    if (!bank.ok()) return absl::FailedPreconditionError(bank.status().message());
    t->bank = std::make_unique<ControllerWeightBank>(*std::move(bank));
  }
  auto run = trainers::DfaRun::Create(
      config, t->data->train, t->data->test, t->bank.get(), [&](double fraction) {
        spdlog::info("training session {}: weight bank {:.0f}%", status.id(), 100 * fraction);
      });
  if (!run.ok()) return run.status();
  t->run = *std::move(run);
  if (t->bank) {
    spdlog::info("training session {}: B programmed, weight rms error {:.4f}", status.id(),
                 t->run->bank_report().rms_error);
  }
  status.set_trained_phases(t->run->parameter_count());
  status.set_dataset_source(t->data->source);
  if (resume_from) {
    const std::vector<float> state(resume_from->network_state().begin(),
                                   resume_from->network_state().end());
    if (absl::Status s = t->run->Restore(ProgressFrom(resume_from->status()), state); !s.ok()) {
      return s;
    }
    t->progress_ = t->run->progress();
    t->RestorePowerSum(resume_from->power_sum_mw());
  } else {
    absl::StatusOr<double> initial = t->run->Evaluate(t->data->test, c.test_samples());
    if (!initial.ok()) return initial.status();
    status.set_initial_test_accuracy(*initial);
  }
  return t;
}

}  // namespace

absl::Status ValidateTrainerConfig(const ChipController& controller, const SessionConfig& c) {
  if (IsInSitu(c)) return ValidateInSituSession(controller, c);
  if (IsDfa(c)) {
    if (absl::Status s = trainers::ValidateDfaConfig(DfaFrom(c)); !s.ok()) return s;
    if (c.algorithm().feedback() != "microring") return absl::OkStatus();
    const photonic::v1::MicroringBankCircuit* bank = SingleWeightBank(controller.layout());
    if (bank == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm.feedback = \"microring\" needs a microring weight-bank chip; ",
                       controller.chip().name(), " is not one"));
    }
    int hidden = 0;
    for (int i = 1; i + 1 < c.widths_size(); ++i) hidden += c.widths(i);
    if (static_cast<int>(bank->channels()) != c.widths(c.widths_size() - 1) ||
        static_cast<int>(bank->rows()) != hidden) {
      return absl::InvalidArgumentError(
          absl::StrCat("widths: microring feedback needs classes = the bank's ", bank->channels(),
                       " channels and hidden units summing to its ", bank->rows(), " rows"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<trainers::OnnModel> model = trainers::OnnModel::Create(
      controller.layout(),
      {{c.widths().begin(), c.widths().end()}, c.temperature(), c.first_circuit()});
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("widths: ", model.status().message()));
  }
  trainers::ModelOracle oracle(controller.chip());
  absl::StatusOr<std::unique_ptr<trainers::ZoOptimizer>> optimizer =
      trainers::MakeOptimizer(AlgorithmFrom(c), *model, oracle);
  if (!optimizer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("algorithm: ", optimizer.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeSessionTrainer(
    ChipController& controller, const SessionConfig& config, const SessionCheckpoint* resume_from,
    SessionStatus& status) {
  if (IsDfa(config)) return MakeDfaTrainer(controller, config, resume_from, status);
  if (IsInSitu(config)) return MakeInSituTrainer(controller, config, resume_from, status);
  return MakeZoTrainer(controller, config, resume_from, status);
}

}  // namespace phc::daemon
