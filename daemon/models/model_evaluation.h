// Evaluating the deployed model on the chip (ModelService.Evaluate): the
// model, its placement and test set prepared off the hardware thread, then
// one batch of samples per step on the hardware thread (through a
// ControllerOracle), so that other clients' reads interleave between
// batches. While it runs the evaluation holds the controller's write lease
// ("model evaluation <id>"): no client write, session or calibration changes
// the phases under it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/models/model_store.h"
#include "daemon/training/controller_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "photonic/v1/model.pb.h"

namespace phc::daemon {

struct EvaluationSetup {
  std::string model_id;
  trainers::onn::Model model;
  trainers::onn::ChipPlacement placement;
  trainers::Dataset test;
  // Per test sample: whether the ideal model classifies it right (computed
  // here, off the hardware thread).
  std::vector<char> in_silico_correct;
};

// Builds the stored model, places it on `chip` (PlaceModel's
// FAILED_PRECONDITION) and loads its test set, at most test_limit samples
// (0: all; errors name the dataset's directory). Thread-safe (pure); slow
// for Fashion-MNIST: run it on a model worker.
absl::StatusOr<EvaluationSetup> PrepareEvaluation(const photonic::v1::StoredModel& stored,
                                                  const photonic::v1::ChipDescription& chip,
                                                  const std::filesystem::path& fashion_mnist_dir,
                                                  int test_limit);

// Built on any thread; every method then REQUIRES the controller's
// hardware thread. End() must be called before destruction once Begin()
// succeeded.
class ModelEvaluationRun {
 public:
  // averages: detector averages per query (0: 1); batch_size: samples per
  // Step at most, fewer so that a Step stays within a few hundred queries.
  ModelEvaluationRun(ChipController& controller, ModelStore& store, EvaluationSetup setup,
                     std::uint32_t averages, int batch_size);
  ~ModelEvaluationRun();

  ModelEvaluationRun(const ModelEvaluationRun&) = delete;
  ModelEvaluationRun& operator=(const ModelEvaluationRun&) = delete;

  // FAILED_PRECONDITION unless the model is the deployed one and the chip's
  // phases are still its, or when the chip is leased (session, calibration,
  // another evaluation). Then takes the controller's write lease.
  absl::Status Begin();
  // Measures the next batch; the progress after it (done and accuracy set
  // after the last batch). FAILED_PRECONDITION if the chip's phases changed;
  // the controller's errors (a lost instrument link).
  // REQUIRES: Begin() succeeded, !done().
  absl::StatusOr<photonic::v1::EvaluateProgress> Step();
  bool done() const { return done_samples_ >= setup_.test.size(); }
  // Releases the write lease; when every sample was measured, records the
  // accuracy as the model's last_chip_accuracy. Idempotent.
  void End();

  const std::string& model_id() const { return setup_.model_id; }
  WriteLeaseHolder lease_holder() const {
    return WriteLeaseHolder::ModelEvaluation(setup_.model_id);
  }

 private:
  ChipController& controller_;
  ModelStore& store_;
  EvaluationSetup setup_;
  const std::uint32_t averages_;
  const int batch_size_;
  std::unique_ptr<ControllerOracle> oracle_;  // from Begin
  std::vector<double> deployed_phases_rad_;
  bool holds_lease_ = false;
  bool ended_ = false;
  int done_samples_ = 0;
  int correct_ = 0;
  int in_silico_correct_ = 0;
};

}  // namespace phc::daemon
