#include "daemon/models/model_workers.h"

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace phc::daemon {
namespace {

// Evaluation set-ups (a model build and a test-set load each) at once.
constexpr int kMaxJobs = 4;

}  // namespace

ModelWorkers::~ModelWorkers() { Shutdown(); }

absl::Status ModelWorkers::StartTraining(std::shared_ptr<std::atomic<bool>> cancel,
                                         std::function<void()> train) {
  phc::base::MutexLock lock(&mu_);
  if (shut_down_) return absl::UnavailableError("photonicd is shutting down");
  if (training_) {
    return absl::ResourceExhaustedError(
        "another in silico training is running (one at a time); wait for it or cancel it");
  }
  if (absl::Status s = StartLocked(std::move(train), /*training=*/true); !s.ok()) return s;
  training_ = true;
  training_cancel_ = std::move(cancel);
  training_worker_ = workers_.back().get();
  return absl::OkStatus();
}

void ModelWorkers::TrainingSettled() {
  phc::base::MutexLock lock(&mu_);
  training_ = false;
  training_cancel_.reset();
  training_worker_ = nullptr;
}

absl::Status ModelWorkers::Start(std::function<void()> job) {
  phc::base::MutexLock lock(&mu_);
  if (shut_down_) return absl::UnavailableError("photonicd is shutting down");
  JoinFinishedLocked();
  int running = 0;
  for (const auto& worker : workers_) running += !worker->training;
  if (running >= kMaxJobs) {
    return absl::ResourceExhaustedError(absl::StrCat(
        kMaxJobs, " model jobs (evaluation set-ups) are running; try again when one ends"));
  }
  return StartLocked(std::move(job), /*training=*/false);
}

absl::Status ModelWorkers::StartLocked(std::function<void()> job, bool training) {
  JoinFinishedLocked();
  auto worker = std::make_shared<Worker>();
  worker->training = training;
  // The thread's last step takes mu_, held here until `worker` is listed.
  try {
    worker->thread = std::thread([this, worker, job = std::move(job), training] {
      job();
      phc::base::MutexLock lock(&mu_);
      if (training && training_worker_ == worker.get()) {  // not settled already
        training_ = false;
        training_cancel_.reset();
        training_worker_ = nullptr;
      }
      worker->finished = true;
    });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot start a model worker: ", e.what()));
  }
  workers_.push_back(std::move(worker));
  return absl::OkStatus();
}

void ModelWorkers::JoinFinishedLocked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->finished) {
      (*it)->thread.join();  // its job returned; it only leaves its lambda
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void ModelWorkers::Shutdown() {
  std::list<std::shared_ptr<Worker>> workers;
  {
    phc::base::MutexLock lock(&mu_);
    shut_down_ = true;
    if (training_cancel_) training_cancel_->store(true);
    workers.swap(workers_);
  }
  for (const std::shared_ptr<Worker>& worker : workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

}  // namespace phc::daemon
