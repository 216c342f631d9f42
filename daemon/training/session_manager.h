// Training sessions in the daemon. A session trains an ONN on the chip with
// a zeroth-order method. Its preparation (loading data, pretraining) and its
// slices of steps run on the controller's worker pool, each hardware
// operation holding the hardware on its own (so reads from clients wait for
// one operation at most); the bookkeeping between slices runs on the
// hardware thread. A session holds
// the chip's write lease while it runs or is paused, and checkpoints to the
// state directory so that it resumes after a daemon restart at the step it
// had reached, with the same parameters.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/models/model_store.h"
#include "phc/base/mutex.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

struct Session;
struct WorkResult;

// Receives every status a session publishes; `last` marks its final one.
// Returns false once it wants no more (it is then dropped). Called with the
// manager's watcher lock held: it must not call back into the manager.
using SessionWatcher = std::function<bool(const photonic::v1::SessionStatus& status, bool last)>;

class SessionManager {
 public:
  // state_dir empty: sessions are not checkpointed. chip_instance names the
  // chip (as the calibration store does); checkpoints of other chips are
  // ignored. fashion_mnist_dir: the daemon config's (empty:
  // PHC_FASHION_MNIST_DIR, else the Debian package's directory; see
  // trainers::FashionMnistDir). models: the daemon's models, which
  // from_model sessions fine-tune (null: such sessions are refused).
  SessionManager(ChipController& controller, std::filesystem::path state_dir,
                 std::string chip_instance, const std::filesystem::path& fashion_mnist_dir = {},
                 ModelStore* models = nullptr);
  ~SessionManager();

  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Everything below but Watch and Shutdown: REQUIRES the controller's
  // hardware thread (services post these calls there).

  // Loads the checkpoints in the state directory and resumes the session
  // that was running. Call once, before serving.
  void Recover();

  // INVALID_ARGUMENT naming the field; FAILED_PRECONDITION when the chip is
  // leased to another session, the dataset is not installed, or a
  // from_model session's model is not the deployed one (NOT_FOUND: no such
  // model).
  absl::StatusOr<photonic::v1::SessionStatus> Start(const photonic::v1::SessionConfig& config);
  absl::StatusOr<photonic::v1::SessionStatus> Pause(const std::string& id);
  absl::StatusOr<photonic::v1::SessionStatus> Resume(const std::string& id);
  absl::StatusOr<photonic::v1::SessionStatus> Cancel(const std::string& id);
  absl::StatusOr<photonic::v1::SessionStatus> Get(const std::string& id) const;
  std::vector<photonic::v1::SessionStatus> List() const;

  // Thread-safe. Calls `watcher` with the present status now, then with
  // each update until the session ends. NOT_FOUND for an unknown id.
  absl::Status Watch(const std::string& id, SessionWatcher watcher);

  // Stops the running session at a step boundary and checkpoints it as
  // running (so it resumes at the next start). Blocks until done.
  // REQUIRES: not on the hardware thread.
  void Shutdown();

 private:
  // Hardware thread.
  void Pump(const std::shared_ptr<Session>& session);
  void StartPreparing(const std::shared_ptr<Session>& session);
  void StartSlice(const std::shared_ptr<Session>& session);
  // Takes the work's result, if it is there, and goes on with the session.
  void TakeWork(const std::shared_ptr<Session>& session);
  void Prepared(const std::shared_ptr<Session>& session, WorkResult result);
  void SliceDone(const std::shared_ptr<Session>& session, const absl::Status& error);
  // Stops the session's slice at its present step and takes its result
  // (letting the worker hold the hardware meanwhile). No-op while preparing.
  void WaitForSlice(const std::shared_ptr<Session>& session);
  // Worker pool bookkeeping (any thread).
  void BeginWork();
  void EndWork(const std::shared_ptr<Session>& session, WorkResult result);
  void Publish(const Session& session, bool last);            // hardware thread
  void Checkpoint(Session& session);                          // hardware thread
  std::string CheckpointBytes(const Session& session) const;  // hardware thread
  // Any thread: a synced, atomic file write.
  // Logs a failure; returns it for SessionStatus.checkpoint_error.
  absl::Status WriteCheckpoint(const std::string& id, const std::string& bytes) const;
  void Finish(Session& session, photonic::v1::SessionState state, const std::string& reason);
  std::shared_ptr<Session> Find(const std::string& id) const;
  absl::Status ValidateConfig(const photonic::v1::SessionConfig& config) const;
  // A from_model session's model: stored, deployed now, its data installed.
  absl::Status ValidateModelSource(const photonic::v1::SessionConfig& config) const;

  ChipController& controller_;
  const std::filesystem::path state_dir_;
  const std::string chip_instance_;
  const std::filesystem::path fashion_mnist_dir_;             // resolved at construction
  ModelStore* const models_;                                  // may be null
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // hardware thread
  mutable phc::base::Mutex mu_;
  // The latest status of every session, and the watchers.
  std::map<std::string, photonic::v1::SessionStatus> snapshots_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, SessionWatcher> watchers_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> shutting_down_{false};
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  int working_ = 0;  // sessions with work on the worker pool; guarded by work_mu_
};

// The full config with every default filled in.
photonic::v1::SessionConfig WithDefaults(const photonic::v1::SessionConfig& config);

}  // namespace phc::daemon
