#include "daemon/models/model_programming.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/models/deployment.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

constexpr int kQueriesPerPost = 500;
constexpr std::uint32_t kMaxSteps = 100;
constexpr int kDefaultSweeps = 6;
constexpr int kDefaultRefinements = 20;

}  // namespace

absl::StatusOr<ProgrammingSetup> PrepareProgramming(
    const photonic::v1::StoredModel& stored, const photonic::v1::ChipDescription& chip,
    const photonic::v1::ProgramInSituRequest& request) {
  if (request.sweeps() > kMaxSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweeps = ", request.sweeps(), " must be in [0, 100] (0: 6)"));
  }
  if (request.refinements() > kMaxSteps) {
    return absl::InvalidArgumentError(
        absl::StrCat("refinements = ", request.refinements(), " must be in [0, 100] (0: 20)"));
  }
  trainers::onn::InSituProgrammingOptions options;
  options.sweeps = request.sweeps() > 0 ? static_cast<int>(request.sweeps()) : kDefaultSweeps;
  options.refinements =
      request.refinements() > 0 ? static_cast<int>(request.refinements()) : kDefaultRefinements;
  absl::StatusOr<trainers::onn::Model> model = BuildStoredModel(stored);
  if (!model.ok()) return model.status();
  absl::StatusOr<trainers::onn::ChipPlacement> placement = trainers::onn::PlaceModel(*model, chip);
  if (!placement.ok()) return placement.status();
  return ProgrammingSetup{.model_id = stored.info().model_id(),
                          .model = *std::move(model),
                          .placement = *std::move(placement),
                          .options = options};
}

ModelProgrammingRun::ModelProgrammingRun(ChipController& controller, ModelStore& store,
                                         ProgrammingSetup setup, std::uint32_t averages)
    : controller_(controller),
      store_(store),
      setup_(std::move(setup)),
      averages_(std::max<std::uint32_t>(1, averages)) {}

ModelProgrammingRun::~ModelProgrammingRun() {
  if (holds_lease_) {
    spdlog::critical("bug: model programming {} destroyed holding the write lease", model_id());
  }
}

absl::Status ModelProgrammingRun::Begin() {
  absl::StatusOr<Deployment> deployed = DeploymentOf(controller_, store_, model_id());
  if (!deployed.ok()) return deployed.status();
  if (absl::Status s = controller_.CheckClientMayWrite(); !s.ok()) return s;
  absl::StatusOr<trainers::onn::InSituProgrammer> programmer =
      trainers::onn::InSituProgrammer::Create(setup_.model, setup_.placement, controller_.layout(),
                                              deployed->phases_rad, setup_.options);
  if (!programmer.ok()) return programmer.status();
  // Nothing of the run is kept unless it holds the chip: End() writes only then.
  if (absl::Status s = controller_.TakeWriteLease(lease_holder()); !s.ok()) return s;
  holds_lease_ = true;
  programmer_ = *std::move(programmer);
  deployed_ = *std::move(deployed);
  oracle_ = std::make_unique<ControllerOracle>(controller_, averages_);
  spdlog::info("model {}: programming in situ, {} sweeps and {} refinements", model_id(),
               setup_.options.sweeps, setup_.options.refinements);
  return absl::OkStatus();
}

bool ModelProgrammingRun::done() const { return programmer_.has_value() && programmer_->done(); }

absl::StatusOr<photonic::v1::ProgramInSituProgress> ModelProgrammingRun::Step() {
  const std::int64_t start = oracle_->cost().queries;
  const int completed = programmer_->completed();
  while (!programmer_->done() && programmer_->completed() == completed &&
         (oracle_->cost().queries - start) * averages_ < kQueriesPerPost) {
    absl::StatusOr<bool> stepped = programmer_->Step(*oracle_);
    if (!stepped.ok()) return stepped.status();
  }
  const trainers::onn::InSituProgrammingResult so_far = programmer_->result();
  photonic::v1::ProgramInSituProgress progress;
  progress.set_completed(static_cast<std::uint32_t>(programmer_->completed()));
  progress.set_total(static_cast<std::uint32_t>(programmer_->total()));
  progress.set_fraction(std::min(1.0, (programmer_->completed() + programmer_->fraction()) /
                                          std::max(1, programmer_->total())));
  double initial = 0.0;
  for (double r : so_far.initial_residual) initial += r / so_far.initial_residual.size();
  progress.set_initial_residual(initial);
  progress.set_mean_residual(programmer_->mean_residual());
  progress.set_queries(so_far.queries);
  progress.set_done(programmer_->done());
  return progress;
}

void ModelProgrammingRun::End() {
  if (ended_) return;
  ended_ = true;
  if (!programmer_.has_value()) return;  // Begin refused: nothing ran
  if (done()) {
    const trainers::onn::InSituProgrammingResult result = programmer_->result();
    Deployment programmed{.model_id = model_id(),
                          .phases_rad = controller_.GetPhases().phases_rad,
                          .output_offset_mw = result.output_offset_mw,
                          .output_gain_per_mw = result.output_gain_per_mw,
                          .programmed_residual = programmer_->mean_residual()};
    if (absl::Status s = store_.SetDeployed(std::move(programmed)); !s.ok()) {
      spdlog::error("model {}: programmed, but not recorded as deployed: {}", model_id(),
                    s.ToString());
    } else {
      spdlog::info("model {}: programmed in situ, mean residual {:.4f} ({} queries)", model_id(),
                   programmer_->mean_residual(), result.queries);
    }
  } else {
    // Back to what Deploy wrote, so that the deployment stays valid.
    absl::StatusOr<PhaseState> restored = controller_.SetPhases(deployed_->phases_rad, {});
    if (restored.ok()) {
      store_.SetDeployed(*deployed_).IgnoreError();
      spdlog::info("model {}: programming stopped; the deployed phases are back", model_id());
    } else {
      spdlog::warn(
          "model {}: programming stopped and the deployed phases could not be written "
          "back: {}",
          model_id(), restored.status().ToString());
    }
  }
  if (holds_lease_) controller_.ReleaseWriteLease(lease_holder());
  holds_lease_ = false;
}

}  // namespace phc::daemon
