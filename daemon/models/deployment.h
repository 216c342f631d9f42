// Deploying a stored model on the chip: the placement of its cores on the
// chip's coherent SVD cores, the chip phase vector that carries its phases
// with every other heater at zero power, the write through the controller
// (PowerGuard), and the record of what is deployed.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/chip/heater_phase_model.h"
#include "daemon/models/model_store.h"
#include "phc/trainers/onn/chip_execution.h"
#include "photonic/v1/model.pb.h"

namespace phc::daemon {

// What Deploy writes, computed off the hardware thread.
struct DeploymentPlan {
  std::string model_id;
  trainers::onn::ChipPlacement placement;
  // The chip's phase vector with the model's phases on its cores (the
  // other entries are replaced on the hardware thread, see
  // PhasesWithOthersUnpowered), and which entries are the model's.
  std::vector<double> phases_rad;
  std::vector<bool> model_phase;
  int model_phase_count = 0;
  // The stored parameters planned from: Deploy writes only while the store
  // still holds exactly these under model_id (not deleted, not replaced).
  std::vector<double> parameters;
};

// FAILED_PRECONDITION (PlaceModel's) when the chip cannot run the model: too
// few coherent SVD cores of its size, unipolar modulators, a digital twin,
// an optical layer with unbounded inputs. Thread-safe (pure).
absl::StatusOr<DeploymentPlan> PlanDeployment(const photonic::v1::StoredModel& stored,
                                              const photonic::v1::ChipDescription& chip,
                                              const photonsim::ChipLayout& layout);

// `phases_rad` with every entry that is not the model's replaced by the phase
// its heater takes at zero power (HeaterPhaseModel::PhasesForPowers of zero
// powers). Models take whole circuits and the phase model's crosstalk stays
// within a circuit, so the unused circuits then draw no power.
// REQUIRES: phases_rad.size() == model_phase.size() == the model's phase count.
std::vector<double> PhasesWithOthersUnpowered(const HeaterPhaseModel& phase_model,
                                              std::span<const double> phases_rad,
                                              const std::vector<bool>& model_phase);

struct DeployOutcome {
  PhaseState state;  // the chip after the write
  photonic::v1::ModelInfo info;
};

// Writes the plan (every phase at once, through PowerGuard) and records the
// deployment in `store`. The controller's errors (FAILED_PRECONDITION over a
// heater limit or the budget, ...) leave the chip and the record as they
// were. Does not check leases: the caller admits the write.
// REQUIRES: controller.OnHardwareThread().
absl::StatusOr<DeployOutcome> DeployModel(ChipController& controller, ModelStore& store,
                                          const DeploymentPlan& plan);

// Whether two phase vectors are the same wrapped phases (to 1e-9 rad).
bool SamePhases(std::span<const double> a, std::span<const double> b);

// The deployment of `model_id` after RefreshDeployment; FAILED_PRECONDITION
// naming what is deployed instead (and how to deploy it) otherwise.
// REQUIRES: controller.OnHardwareThread().
absl::StatusOr<Deployment> DeploymentOf(const ChipController& controller, ModelStore& store,
                                        const std::string& model_id);

// Forgets the deployment when the chip's phases are no longer the deployed
// ones (another write, a new calibration). Returns the deployment that is
// still valid, if any.
// REQUIRES: controller.OnHardwareThread().
std::optional<Deployment> RefreshDeployment(const ChipController& controller, ModelStore& store);

}  // namespace phc::daemon
