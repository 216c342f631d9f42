// Threads for model work that must neither run on the hardware thread nor
// block a gRPC reaction: in silico training (at most one at a time) and the
// preparation of an evaluation (building the model, loading its test set).
// Each job runs on its own std::thread; a finished thread is joined by the
// next Start or by Shutdown.
//
// Thread safety: thread-safe. A job must not call back into ModelWorkers.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "phc/base/mutex.h"

namespace phc::daemon {

class ModelWorkers {
 public:
  ModelWorkers() = default;
  ~ModelWorkers();  // Shutdown()

  ModelWorkers(const ModelWorkers&) = delete;
  ModelWorkers& operator=(const ModelWorkers&) = delete;

  // Runs `train` on a new thread. RESOURCE_EXHAUSTED while another training
  // runs; UNAVAILABLE after Shutdown. `cancel` is set by Shutdown.
  absl::Status StartTraining(std::shared_ptr<std::atomic<bool>> cancel,
                             std::function<void()> train);
  // The training job calls this once its result is settled and before it
  // answers its client, so that the client's next training is not refused
  // as overlapping (the thread itself may still be finishing).
  void TrainingSettled() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs a short job on a new thread. UNAVAILABLE after Shutdown.
  absl::Status Start(std::function<void()> job);

  // Refuses new jobs, cancels the running training and joins every thread.
  // Idempotent. REQUIRES: not called from a job.
  void Shutdown();

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> finished{false};  // its job has returned
    bool training = false;
  };
  absl::Status StartLocked(std::function<void()> job, bool training)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JoinFinishedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  phc::base::Mutex mu_;
  std::list<std::shared_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  bool training_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<std::atomic<bool>> training_cancel_ ABSL_GUARDED_BY(mu_);
  const Worker* training_worker_ ABSL_GUARDED_BY(mu_) = nullptr;  // until settled
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace phc::daemon
