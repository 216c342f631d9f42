// Programming the deployed model in situ (ModelService.ProgramInSitu): the
// model and its placement prepared off the hardware thread, then a few
// InSituProgrammer steps per post on the hardware thread (through a
// ControllerOracle), so that other clients' reads interleave. While it runs
// it holds the controller's write lease ("model programming <id>"). At the
// end the deployment record takes the programmed phases and the measured
// receiver calibration (Evaluate uses it); a run that did not finish puts
// the deployed phases back.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/models/model_store.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/in_situ_programming.h"
#include "phc/trainers/onn/model.h"
#include "photonic/v1/model.pb.h"

namespace phc::daemon {

struct ProgrammingSetup {
  std::string model_id;
  trainers::onn::Model model;
  trainers::onn::ChipPlacement placement;
  trainers::onn::InSituProgrammingOptions options;
};

// The request's options (defaults for 0; INVALID_ARGUMENT naming the field
// beyond 100 sweeps or refinements), the stored model and its placement on
// `chip` (PlaceModel's FAILED_PRECONDITION). Thread-safe (pure).
absl::StatusOr<ProgrammingSetup> PrepareProgramming(
    const photonic::v1::StoredModel& stored, const photonic::v1::ChipDescription& chip,
    const photonic::v1::ProgramInSituRequest& request);

// Built on any thread; every method then REQUIRES the controller's
// hardware thread. End() must be called before destruction once Begin()
// succeeded.
class ModelProgrammingRun {
 public:
  ModelProgrammingRun(ChipController& controller, ModelStore& store, ProgrammingSetup setup,
                      std::uint32_t averages);
  ~ModelProgrammingRun();

  ModelProgrammingRun(const ModelProgrammingRun&) = delete;
  ModelProgrammingRun& operator=(const ModelProgrammingRun&) = delete;

  // FAILED_PRECONDITION unless the model is the deployed one and the chip's
  // phases are still its, or when the chip is leased. Then takes the
  // controller's write lease.
  absl::Status Begin();
  // Programmer steps up to a few hundred queries (times the averages), and
  // never past the end of a sweep or refinement; the progress after them.
  // The controller's errors (a lost link, PowerGuard).
  // REQUIRES: Begin() succeeded, !done().
  absl::StatusOr<photonic::v1::ProgramInSituProgress> Step();
  bool done() const;
  // Releases the write lease. When every step ran, the deployment becomes
  // the programmed phases with the measured receivers; otherwise the chip is
  // written back to the deployed phases (the deployment stays as it was).
  // Idempotent.
  void End();

  const std::string& model_id() const { return setup_.model_id; }
  WriteLeaseHolder lease_holder() const {
    return WriteLeaseHolder::ModelProgramming(setup_.model_id);
  }

 private:
  ChipController& controller_;
  ModelStore& store_;
  ProgrammingSetup setup_;
  const std::uint32_t averages_;
  std::unique_ptr<ControllerOracle> oracle_;  // from Begin
  std::optional<trainers::onn::InSituProgrammer> programmer_;
  std::optional<Deployment> deployed_;  // as Begin found it
  bool holds_lease_ = false;
  bool ended_ = false;
};

}  // namespace phc::daemon
