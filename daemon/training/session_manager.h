// Training sessions in the daemon. A session trains an ONN on the chip with
// a zeroth-order method, in slices of work posted to the controller's
// hardware thread (so reads from clients interleave with training), holds
// the chip's write lease while it runs or is paused, and checkpoints to the
// state directory so that it resumes after a daemon restart at the step it
// had reached, with the same parameters.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "daemon/chip_controller.h"
#include "daemon/models/model_store.h"
#include "phc/base/mutex.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {

struct Session;

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
  void Pump(const std::shared_ptr<Session>& session);  // hardware thread
  absl::Status Prepare(Session& session);              // hardware thread
  void Publish(const Session& session, bool last);     // hardware thread
  void Checkpoint(Session& session);                   // hardware thread
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
  bool shutting_down_ = false;  // hardware thread
};

// The full config with every default filled in.
photonic::v1::SessionConfig WithDefaults(const photonic::v1::SessionConfig& config);

}  // namespace phc::daemon
