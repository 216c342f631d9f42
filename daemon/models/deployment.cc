#include "daemon/models/deployment.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "photonsim/phase.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {}  // namespace

absl::StatusOr<DeploymentPlan> PlanDeployment(const photonic::v1::StoredModel& stored,
                                              const photonic::v1::ChipDescription& chip,
                                              const photonsim::ChipLayout& layout) {
  absl::StatusOr<trainers::onn::Model> model = BuildStoredModel(stored);
  if (!model.ok()) return model.status();
  absl::StatusOr<trainers::onn::ChipPlacement> placement = trainers::onn::PlaceModel(*model, chip);
  if (!placement.ok()) return placement.status();
  DeploymentPlan plan;
  plan.model_id = stored.info().model_id();
  plan.parameters.assign(stored.parameters().begin(), stored.parameters().end());
  plan.model_phase.assign(layout.phase_count, false);
  for (const int circuit : placement->circuits) {
    const photonsim::CircuitLayout& c = layout.circuits[circuit];
    for (int p = 0; p < c.phase_count; ++p) plan.model_phase[c.first_phase + p] = true;
    plan.model_phase_count += c.phase_count;
  }
  const std::vector<double> zeros(layout.phase_count, 0.0);
  plan.phases_rad = trainers::onn::DeployedPhases(*model, layout, *placement, zeros);
  plan.placement = *std::move(placement);
  return plan;
}

std::vector<double> PhasesWithOthersUnpowered(const HeaterPhaseModel& phase_model,
                                              std::span<const double> phases_rad,
                                              const std::vector<bool>& model_phase) {
  const int n = phase_model.phase_count();
  PHC_CHECK(static_cast<int>(phases_rad.size()) == n);
  PHC_CHECK(static_cast<int>(model_phase.size()) == n);
  const std::vector<double> zero_power = phase_model.PhasesForPowers(std::vector<double>(n, 0.0));
  std::vector<double> target(phases_rad.begin(), phases_rad.end());
  for (int i = 0; i < n; ++i) {
    if (!model_phase[i]) target[i] = zero_power[i];
  }
  return target;
}

absl::StatusOr<DeployOutcome> DeployModel(ChipController& controller, ModelStore& store,
                                          const DeploymentPlan& plan) {
  absl::StatusOr<photonic::v1::StoredModel> current = store.Get(plan.model_id);
  if (!current.ok() || !std::equal(current->parameters().begin(), current->parameters().end(),
                                   plan.parameters.begin(), plan.parameters.end())) {
    return absl::FailedPreconditionError(
        absl::StrCat("model ", plan.model_id,
                     " was deleted or replaced while its deployment waited; nothing "
                     "was written"));
  }
  const std::vector<double> phases =
      PhasesWithOthersUnpowered(controller.phase_model(), plan.phases_rad, plan.model_phase);
  absl::StatusOr<PhaseState> state = controller.SetPhases(phases, {});
  if (!state.ok()) return state.status();
  if (absl::Status s = store.SetDeployed({.model_id = plan.model_id,
                                          .phases_rad = state->phases_rad,
                                          .output_offset_mw = {},
                                          .output_gain_per_mw = {},
                                          .programmed_residual = -1.0});
      !s.ok()) {
    // Deleted while the write waited: the chip holds its phases, but no model.
    store.ClearDeployed();
    return s;
  }
  absl::StatusOr<photonic::v1::ModelInfo> info = store.Info(plan.model_id);
  if (!info.ok()) return info.status();
  spdlog::info("model {} deployed on {} cores ({} phases, {:.1f} mW in all heaters)", plan.model_id,
               plan.placement.circuits.size(), plan.model_phase_count,
               state->total_heater_power_mw);
  return DeployOutcome{*std::move(state), *std::move(info)};
}

bool SamePhases(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(std::abs(std::remainder(a[i] - b[i], photonsim::kTwoPi)) <= 1e-9)) return false;
  }
  return true;
}

std::optional<Deployment> RefreshDeployment(const ChipController& controller, ModelStore& store) {
  std::optional<Deployment> deployed = store.deployed();
  if (!deployed.has_value()) return std::nullopt;
  if (SamePhases(controller.GetPhases().phases_rad, deployed->phases_rad)) return deployed;
  spdlog::info("model {} is no longer deployed: the chip's phases changed", deployed->model_id);
  store.ClearDeployed();
  return std::nullopt;
}

absl::StatusOr<Deployment> DeploymentOf(const ChipController& controller, ModelStore& store,
                                        const std::string& model_id) {
  std::optional<Deployment> deployed = RefreshDeployment(controller, store);
  if (deployed.has_value() && deployed->model_id == model_id) return *std::move(deployed);
  return absl::FailedPreconditionError(
      absl::StrCat("model ", model_id, " is not deployed on the chip (",
                   deployed.has_value() ? absl::StrCat("model ", deployed->model_id, " is")
                                        : std::string("no model is"),
                   "); photonctl model deploy ", model_id, " first"));
}

}  // namespace phc::daemon
