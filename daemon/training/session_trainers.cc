#include "daemon/training/session_trainers.h"

#include <optional>
#include <utility>
#include <vector>

#include "daemon/models/deployment.h"
#include "daemon/training/controller_oracle.h"
#include "daemon/training/controller_weight_bank.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::SessionCheckpoint;
using photonic::v1::SessionConfig;
using photonic::v1::SessionStatus;

namespace {

// The chip as a session's run sees it: a ControllerOracle, the microring
// bank (opened when the run asks for it), and the controller's heater state.
// The oracle, whose start readings of heater energy and chip time the cost
// counts from, is made when the run starts its accounting (after loading
// its data; on the serial backend the chip clock is wall time).
class ControllerRunChip final : public trainers::RunChip {
 public:
  ControllerRunChip(ChipController& controller, std::uint32_t detector_averages, ModelStore* models)
      : controller_(controller), detector_averages_(detector_averages), models_(models) {}

  const photonic::v1::ChipDescription& description() const override { return controller_.chip(); }
  trainers::ChipOracle& oracle() override {
    StartAccounting();  // every registry run has started it already
    return *oracle_;
  }
  absl::StatusOr<trainers::WeightBankDevice*> weight_bank() override {
    if (!bank_) {
      absl::StatusOr<ControllerWeightBank> bank = ControllerWeightBank::Create(controller_);
      if (!bank.ok()) return absl::FailedPreconditionError(bank.status().message());
      bank_.emplace(*std::move(bank));
    }
    return &*bank_;
  }
  std::vector<double> phases_rad() const override { return controller_.GetPhases().phases_rad; }
  absl::StatusOr<trainers::ChipModel> model(const std::string& model_id,
                                            bool must_be_deployed) override {
    if (models_ == nullptr) return RunChip::model(model_id, must_be_deployed);
    // The deployment and the model store belong to whoever holds the hardware.
    const ChipController::HardwareHold hold = controller_.Hold();
    absl::StatusOr<photonic::v1::StoredModel> stored = models_->Get(model_id);
    if (!stored.ok()) return stored.status();
    std::optional<Deployment> deployment = RefreshDeployment(controller_, *models_);
    if (deployment && deployment->model_id != model_id) deployment.reset();
    if (must_be_deployed && !deployment) {
      absl::StatusOr<Deployment> deployed = DeploymentOf(controller_, *models_, model_id);
      if (!deployed.ok()) return deployed.status();
    }
    absl::StatusOr<trainers::onn::Model> model = BuildStoredModel(*stored);
    if (!model.ok()) return model.status();
    absl::StatusOr<trainers::onn::ChipPlacement> placement =
        trainers::onn::PlaceModel(*model, controller_.chip());
    if (!placement.ok()) return placement.status();
    if (deployment) {
      placement->output_offset_mw = deployment->output_offset_mw;
      placement->output_gain_per_mw = deployment->output_gain_per_mw;
    }
    return trainers::ChipModel{*std::move(model), *std::move(placement)};
  }
  absl::StatusOr<trainers::onn::Model> stored_model(const std::string& model_id) override {
    if (models_ == nullptr) return RunChip::stored_model(model_id);
    const ChipController::HardwareHold hold = controller_.Hold();
    absl::StatusOr<photonic::v1::StoredModel> stored = models_->Get(model_id);
    if (!stored.ok()) return stored.status();
    return BuildStoredModel(*stored);
  }
  double heater_power_mw() const override { return controller_.GetPhases().total_heater_power_mw; }
  void StartAccounting() override {
    if (!oracle_) oracle_.emplace(controller_, detector_averages_);
  }
  trainers::OracleCost cost() const override {
    trainers::OracleCost cost = oracle_ ? oracle_->cost() : trainers::OracleCost{};
    if (bank_) cost.queries += bank_->readings();
    return cost;
  }

 private:
  ChipController& controller_;
  std::uint32_t detector_averages_;
  ModelStore* models_;                      // may be null
  std::optional<ControllerOracle> oracle_;  // from StartAccounting() on
  std::optional<ControllerWeightBank> bank_;
};

trainers::RunCheckpoint FromProto(const SessionCheckpoint& saved) {
  const SessionStatus& status = saved.status();
  trainers::RunCheckpoint checkpoint;
  checkpoint.progress.step = status.step();
  checkpoint.progress.loss_evaluations = status.loss_evaluations();
  checkpoint.progress.loss = status.loss();
  checkpoint.progress.test_accuracy = status.test_accuracy();
  checkpoint.progress.heater_power_mw = status.heater_power_mw();
  checkpoint.progress.mean_heater_power_mw = status.mean_heater_power_mw();
  checkpoint.params.assign(saved.params_rad().begin(), saved.params_rad().end());
  checkpoint.base_phases_rad.assign(saved.base_phases_rad().begin(), saved.base_phases_rad().end());
  checkpoint.optimizer_state.assign(saved.optimizer_state().begin(), saved.optimizer_state().end());
  checkpoint.network_state.assign(saved.network_state().begin(), saved.network_state().end());
  checkpoint.chip_network_state.assign(saved.receiver_calibration().begin(),
                                       saved.receiver_calibration().end());
  checkpoint.power_sum_mw = saved.power_sum_mw();
  return checkpoint;
}

}  // namespace

SessionTrainer::SessionTrainer(std::unique_ptr<trainers::RunChip> chip,
                               std::unique_ptr<trainers::Run> run)
    : chip_(std::move(chip)), run_(std::move(run)) {}

SessionTrainer::~SessionTrainer() = default;

void SessionTrainer::Save(SessionCheckpoint& checkpoint) const {
  const trainers::RunCheckpoint saved = run_->Save();
  checkpoint.mutable_params_rad()->Assign(saved.params.begin(), saved.params.end());
  checkpoint.mutable_base_phases_rad()->Assign(saved.base_phases_rad.begin(),
                                               saved.base_phases_rad.end());
  checkpoint.mutable_optimizer_state()->Assign(saved.optimizer_state.begin(),
                                               saved.optimizer_state.end());
  checkpoint.mutable_network_state()->Assign(saved.network_state.begin(),
                                             saved.network_state.end());
  checkpoint.mutable_receiver_calibration()->Assign(saved.chip_network_state.begin(),
                                                    saved.chip_network_state.end());
  checkpoint.set_power_sum_mw(saved.power_sum_mw);
}

absl::Status ValidateTrainerConfig(const ChipController& controller, const SessionConfig& config) {
  return trainers::ValidateRun(config, controller.chip(), controller.layout());
}

absl::StatusOr<std::unique_ptr<SessionTrainer>> MakeSessionTrainer(
    ChipController& controller, const SessionConfig& config, const SessionCheckpoint* resume_from,
    SessionStatus& status, const std::filesystem::path& fashion_mnist_dir, ModelStore* models) {
  auto chip = std::make_unique<ControllerRunChip>(controller, config.detector_averages(), models);
  std::optional<trainers::RunCheckpoint> checkpoint;
  if (resume_from != nullptr) checkpoint = FromProto(*resume_from);
  trainers::RunOptions options{.resume_from = checkpoint ? &*checkpoint : nullptr,
                               .fashion_mnist_dir = fashion_mnist_dir,
                               .log = [id = status.id()](std::string_view note) {
                                 spdlog::info("training session {}: {}", id, note);
                               }};
  absl::StatusOr<trainers::StartedRun> started = trainers::CreateRun(config, *chip, options);
  if (!started.ok()) return started.status();
  status.set_trained_phases(started->trained_parameters);
  status.set_dataset_source(started->dataset_source);
  if (resume_from == nullptr) status.set_initial_test_accuracy(started->initial_test_accuracy);
  return std::make_unique<SessionTrainer>(std::move(chip), std::move(started->run));
}

}  // namespace phc::daemon
