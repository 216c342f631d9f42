#include "daemon/training/session_manager.h"

#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "daemon/models/deployment.h"
#include "daemon/state_io.h"
#include "daemon/training/session_trainers.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/run_registry.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

using photonic::v1::SessionCheckpoint;
using photonic::v1::SessionConfig;
using photonic::v1::SessionState;
using photonic::v1::SessionStatus;

// What a session's work on the worker pool hands back.
struct WorkResult {
  bool prepared = false;                           // a preparation (else a slice of steps)
  absl::Status error;                              // the preparation's or the step's
  std::unique_ptr<SessionTrainer> run;             // prepared
  SessionStatus status;                            // prepared: the fields the trainer recorded
  std::unique_ptr<SessionCheckpoint> resume_from;  // prepared: handed back
  std::optional<absl::Status> checkpoint_written;  // a slice that wrote a checkpoint
};

namespace {
void NoteCheckpoint(SessionStatus& status, const absl::Status& written) {
  status.set_checkpoint_error(written.ok() ? "" : std::string(written.message()));
}
}  // namespace

struct Session {
  SessionStatus status;
  bool pumping = false;  // a slice of work is posted
  // Work on the worker pool: while set, only the worker touches `run` and
  // `resume_from`. Hardware thread.
  bool working = false;
  bool preparing = false;
  std::atomic<bool> stop{false};  // the worker stops after its present step
  std::mutex done_mu;
  std::condition_variable done_cv;
  std::optional<WorkResult> done;                  // guarded by done_mu
  std::unique_ptr<SessionTrainer> run;             // built by the preparation on the worker pool
  std::unique_ptr<SessionCheckpoint> resume_from;  // set when recovered from disk
  std::int64_t last_checkpoint_step = -1;
  // A periodic checkpoint the next slice writes (hardware thread).
  std::string pending_checkpoint;
  // Totals of earlier daemon runs (the oracle counts this run only).
  double energy_offset_mj = 0.0;
  double chip_seconds_offset = 0.0;
  std::int64_t chip_queries_offset = 0;
  double wall_offset_s = 0.0;
  std::chrono::steady_clock::time_point running_since;
  std::int64_t steps_at_running_since = 0;
};

namespace {

constexpr auto kSlice = std::chrono::milliseconds(20);

bool Ended(SessionState state) {
  return state == photonic::v1::SESSION_STATE_COMPLETED ||
         state == photonic::v1::SESSION_STATE_CANCELLED ||
         state == photonic::v1::SESSION_STATE_FAILED;
}

std::string NewSessionId() {
  std::random_device device;
  std::uniform_int_distribution<std::uint32_t> digits(0, 0xffffff);
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "s%06x", digits(device));
  return buffer;
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status Field(const std::string& name, bool ok, const std::string& requirement, double value) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, " = ", value, " ", requirement));
}

absl::Status FashionMnistInstalled(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "Fashion-MNIST is not installed in ", dir.string(),
      " (apt-get install dataset-fashion-mnist, or name its directory in the daemon config's "
      "fashion_mnist_dir or in ",
      trainers::kFashionMnistDirVariable, ")"));
}

}  // namespace

SessionConfig WithDefaults(const SessionConfig& config) {
  SessionConfig c = config;
  if (c.algorithm().name().empty()) c.mutable_algorithm()->set_name("sparse_zo");
  if (c.dataset().empty() && c.from_model().empty()) c.set_dataset("fashion-mnist");
  if (c.train_samples() == 0) c.set_train_samples(5000);
  if (c.test_samples() == 0) c.set_test_samples(500);
  if (c.batch_size() == 0) c.set_batch_size(32);
  if (c.max_steps() == 0) c.set_max_steps(1000);
  if (c.eval_every() == 0) c.set_eval_every(50);
  if (c.detector_averages() == 0) c.set_detector_averages(1);
  if (c.temperature() == 0) c.set_temperature(10.0);
  if (c.checkpoint_every() == 0) c.set_checkpoint_every(50);
  return trainers::WithSparseZoNames(c);
}

SessionManager::SessionManager(ChipController& controller, std::filesystem::path state_dir,
                               std::string chip_instance,
                               const std::filesystem::path& fashion_mnist_dir, ModelStore* models)
    : controller_(controller),
      state_dir_(std::move(state_dir)),
      chip_instance_(std::move(chip_instance)),
      fashion_mnist_dir_(trainers::FashionMnistDir(fashion_mnist_dir)),
      models_(models) {}

SessionManager::~SessionManager() {
  // Work still on the worker pool refers to this manager.
  shutting_down_ = true;
  std::unique_lock lock(work_mu_);
  work_cv_.wait(lock, [this] { return working_ == 0; });
  lock.unlock();
  controller_.RunSync([] {});  // the hand-backs it posted
}

absl::Status SessionManager::ValidateConfig(const SessionConfig& c) const {
  if (absl::Status s = Field("train_samples", c.train_samples() >= 1 && c.train_samples() <= 60000,
                             "must be in [1, 60000]", c.train_samples());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Field("test_samples", c.test_samples() >= 1 && c.test_samples() <= 10000,
                             "must be in [1, 10000]", c.test_samples());
      !s.ok()) {
    return s;
  }
  const std::pair<const char*, std::pair<bool, double>> checks[] = {
      {"batch_size", {c.batch_size() >= 1 && c.batch_size() <= 4096, c.batch_size()}},
      {"max_steps", {c.max_steps() >= 1 && c.max_steps() <= 100000000, double(c.max_steps())}},
      {"max_loss_evaluations",
       {c.max_loss_evaluations() >= 0 && c.max_loss_evaluations() <= 1000000000000,
        double(c.max_loss_evaluations())}},
      {"target_accuracy",
       {c.target_accuracy() >= 0.0 && c.target_accuracy() <= 1.0, c.target_accuracy()}},
      {"power_budget_mw",
       {c.power_budget_mw() >= 0.0 && std::isfinite(c.power_budget_mw()), c.power_budget_mw()}},
      {"eval_every", {c.eval_every() >= 1 && c.eval_every() <= 1000000, double(c.eval_every())}},
      {"detector_averages",
       {c.detector_averages() >= 1 && c.detector_averages() <= kMaxAverages,
        double(c.detector_averages())}},
      {"checkpoint_every",
       {c.checkpoint_every() >= 1 && c.checkpoint_every() <= 1000000,
        double(c.checkpoint_every())}},
  };
  for (const auto& [name, check] : checks) {
    if (!check.first) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " = ", check.second, " is out of range"));
    }
  }
  if (c.power_budget_mw() > controller_.heater_limits().max_total_power_mw) {
    return absl::InvalidArgumentError(
        absl::StrCat("power_budget_mw = ", c.power_budget_mw(), " is above the chip's budget of ",
                     controller_.heater_limits().max_total_power_mw, " mW"));
  }
  if (absl::Status st = ValidateTrainerConfig(controller_, c); !st.ok()) return st;
  if (!c.from_model().empty()) return ValidateModelSource(c);
  if (c.dataset() != "synthetic" && c.dataset() != "fashion-mnist") {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset = \"", c.dataset(), "\" is not fashion-mnist or synthetic"));
  }
  if (c.dataset() == "fashion-mnist") {
    if (absl::Status st = FashionMnistInstalled(fashion_mnist_dir_); !st.ok()) return st;
  }
  if (c.widths(c.widths_size() - 1) > 10) {
    return absl::InvalidArgumentError(absl::StrCat("widths: the last width (classes) is ",
                                                   c.widths(c.widths_size() - 1),
                                                   "; the datasets have at most 10 classes"));
  }
  return absl::OkStatus();
}

absl::Status SessionManager::ValidateModelSource(const SessionConfig& c) const {
  if (models_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("from_model = \"", c.from_model(), "\": this daemon keeps no models"));
  }
  absl::StatusOr<photonic::v1::StoredModel> stored = models_->Get(c.from_model());
  if (!stored.ok()) return stored.status();
  const std::string& dataset = stored->spec().input().dataset();
  if (!c.dataset().empty() && c.dataset() != dataset) {
    return absl::InvalidArgumentError(absl::StrCat("dataset = \"", c.dataset(), "\": model ",
                                                   c.from_model(), " reads ", dataset,
                                                   "; leave dataset unset"));
  }
  if (dataset == "fashion-mnist") {
    if (absl::Status st = FashionMnistInstalled(fashion_mnist_dir_); !st.ok()) return st;
  }
  if (const std::string& teacher = c.algorithm().teacher_model(); !teacher.empty()) {
    absl::StatusOr<photonic::v1::StoredModel> stored_teacher = models_->Get(teacher);
    if (!stored_teacher.ok()) return stored_teacher.status();
    if (stored_teacher->spec().input().dataset() != dataset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "teacher_model = \"", teacher, "\" reads ", stored_teacher->spec().input().dataset(),
          "; model ", c.from_model(), " reads ", dataset));
    }
  }
  return DeploymentOf(controller_, *models_, c.from_model()).status();
}

std::shared_ptr<Session> SessionManager::Find(const std::string& id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

absl::StatusOr<SessionStatus> SessionManager::Start(const SessionConfig& request) {
  SessionConfig config = WithDefaults(request);
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  if (!config.from_model().empty()) {
    config.set_dataset(models_->Get(config.from_model())->spec().input().dataset());
  }
  std::string id = NewSessionId();
  while (sessions_.contains(id)) id = NewSessionId();
  if (absl::Status s = controller_.TakeWriteLease(WriteLeaseHolder::TrainingSession(id)); !s.ok()) {
    return s;
  }
  auto session = std::make_shared<Session>();
  session->status.set_id(id);
  *session->status.mutable_config() = config;
  session->status.set_state(photonic::v1::SESSION_STATE_RUNNING);
  session->status.set_max_steps(config.max_steps());
  session->status.set_algorithm(config.algorithm().name());
  session->status.set_test_accuracy(-1.0);
  session->status.set_initial_test_accuracy(-1.0);
  session->status.set_created_unix_ms(NowUnixMs());
  sessions_[id] = session;
  // A session accepted is never lost: a crash before its first periodic
  // checkpoint restarts it from step 0 (one small file; the periodic ones
  // are written on the worker pool).
  Checkpoint(*session);
  session->pumping = true;
  spdlog::info("training session {} started: {} on {} ({} steps)", id, config.algorithm().name(),
               config.from_model().empty() ? absl::StrCat(config.widths_size(), " widths")
                                           : absl::StrCat("model ", config.from_model()),
               config.max_steps());
  Publish(*session, false);
  controller_.Post([this, session] { Pump(session); });
  return session->status;
}

void SessionManager::StartPreparing(const std::shared_ptr<Session>& session) {
  Session& s = *session;
  s.working = true;
  s.preparing = true;
  s.stop = false;
  BeginWork();
  controller_.PostWork(
      [this, session, config = s.status.config(), status = s.status,
       resume_from = std::shared_ptr<SessionCheckpoint>(std::move(s.resume_from))]() mutable {
        WorkResult result;
        result.prepared = true;
        absl::StatusOr<std::unique_ptr<SessionTrainer>> trainer = MakeSessionTrainer(
            controller_, config, resume_from.get(), status, fashion_mnist_dir_, models_);
        if (trainer.ok()) {
          result.run = *std::move(trainer);
        } else {
          result.error = trainer.status();
        }
        result.status = std::move(status);
        if (resume_from) result.resume_from = std::make_unique<SessionCheckpoint>(*resume_from);
        EndWork(session, std::move(result));
      });
}

void SessionManager::StartSlice(const std::shared_ptr<Session>& session) {
  Session& s = *session;
  s.working = true;
  s.preparing = false;
  s.stop = false;
  BeginWork();
  // A slice also ends where the next periodic checkpoint is due, so that a
  // crash loses at most checkpoint_every steps (the checkpoint is written at
  // the start of the following slice, before its first step).
  const std::int64_t checkpoint_due = state_dir_.empty()
                                          ? std::numeric_limits<std::int64_t>::max()
                                          : std::max<std::int64_t>(s.last_checkpoint_step, 0) +
                                                s.status.config().checkpoint_every();
  controller_.PostWork([this, session, eval_every = s.status.config().eval_every(), checkpoint_due,
                        id = s.status.id(), checkpoint = std::exchange(s.pending_checkpoint, {})] {
    WorkResult result;
    if (!checkpoint.empty()) result.checkpoint_written = WriteCheckpoint(id, checkpoint);
    SessionTrainer& run = *session->run;
    const auto slice_end = std::chrono::steady_clock::now() + kSlice;
    while (!run.done() && !session->stop && !shutting_down_) {
      absl::StatusOr<trainers::TrainingProgress> step = run.Step();
      if (!step.ok()) {
        result.error = step.status();
        break;
      }
      // A slice ends at its time, or after a test evaluation so that every
      // evaluation reaches the watchers, or at a checkpoint.
      if (std::chrono::steady_clock::now() >= slice_end || step->step % eval_every == 0 ||
          step->step >= checkpoint_due) {
        break;
      }
    }
    EndWork(session, std::move(result));
  });
}

void SessionManager::BeginWork() {
  std::lock_guard lock(work_mu_);
  ++working_;
}

// Worker pool: hands the result back and lets the hardware thread take it.
void SessionManager::EndWork(const std::shared_ptr<Session>& session, WorkResult result) {
  {
    std::lock_guard lock(session->done_mu);
    session->done = std::move(result);
  }
  session->done_cv.notify_all();
  controller_.Post([this, session] { TakeWork(session); });
  // Notified under the lock: once a waiter sees zero, this thread no longer
  // touches the manager.
  std::lock_guard lock(work_mu_);
  --working_;
  work_cv_.notify_all();
}

void SessionManager::WaitForSlice(const std::shared_ptr<Session>& session) {
  Session& s = *session;
  if (!s.working || s.preparing) return;
  s.stop = true;
  controller_.ReleaseHardwareWhile([&s] {
    std::unique_lock lock(s.done_mu);
    s.done_cv.wait(lock, [&s] { return s.done.has_value(); });
  });
  TakeWork(session);
}

void SessionManager::TakeWork(const std::shared_ptr<Session>& session) {
  Session& s = *session;
  std::optional<WorkResult> result;
  {
    std::lock_guard lock(s.done_mu);
    result = std::exchange(s.done, std::nullopt);
  }
  if (!result) return;  // taken already (WaitForSlice)
  s.working = false;
  s.preparing = false;
  if (result->prepared) {
    Prepared(session, *std::move(result));
  } else {
    if (result->checkpoint_written) NoteCheckpoint(s.status, *result->checkpoint_written);
    SliceDone(session, result->error);
  }
}

void SessionManager::Prepared(const std::shared_ptr<Session>& session, WorkResult result) {
  Session& s = *session;
  if (Ended(s.status.state())) {  // cancelled while it prepared: drop it
    s.pumping = false;
    return;
  }
  if (shutting_down_) {  // it starts at the next daemon start
    s.resume_from = std::move(result.resume_from);
    s.pumping = false;
    return;
  }
  if (!result.error.ok()) {
    spdlog::error("training session {} could not start: {}", s.status.id(),
                  result.error.ToString());
    Finish(s, photonic::v1::SESSION_STATE_FAILED, std::string(result.error.message()));
    return;
  }
  s.run = std::move(result.run);
  s.status.set_trained_phases(result.status.trained_phases());
  s.status.set_dataset_source(result.status.dataset_source());
  if (result.resume_from) {
    const SessionStatus& saved = result.resume_from->status();
    s.energy_offset_mj = saved.heater_energy_mj();
    s.chip_seconds_offset = saved.chip_seconds();
    s.chip_queries_offset = saved.chip_queries();
    s.wall_offset_s = saved.wall_seconds();
    s.last_checkpoint_step = saved.step();
  } else {
    s.status.set_initial_test_accuracy(result.status.initial_test_accuracy());
  }
  s.running_since = std::chrono::steady_clock::now();
  s.steps_at_running_since = s.run->progress().step;
  Pump(session);
}

void SessionManager::Pump(const std::shared_ptr<Session>& session) {
  Session& s = *session;
  if (s.working) return;          // its work hands back (TakeWork) and pumps on
  if (Ended(s.status.state())) {  // cancelled while this slice was queued
    s.pumping = false;
    return;
  }
  if (s.status.state() == photonic::v1::SESSION_STATE_PAUSED) {
    s.pumping = false;
    if (s.run) Checkpoint(s);
    return;
  }
  if (shutting_down_ && !s.run) {  // not started yet: it starts at the next daemon start
    s.pumping = false;
    return;
  }
  if (!s.run) {
    StartPreparing(session);
    return;
  }
  StartSlice(session);
}

void SessionManager::SliceDone(const std::shared_ptr<Session>& session, const absl::Status& error) {
  Session& s = *session;
  if (Ended(s.status.state())) {
    s.pumping = false;
    return;
  }
  // The status from the run's progress.
  const trainers::TrainingProgress& p = s.run->progress();
  const trainers::OracleCost cost = s.run->cost();
  const auto now = std::chrono::steady_clock::now();
  const double running_s = std::chrono::duration<double>(now - s.running_since).count();
  SessionStatus& st = s.status;
  st.set_step(p.step);
  st.set_loss_evaluations(p.loss_evaluations);
  st.set_chip_queries(s.chip_queries_offset + cost.queries);
  st.set_loss(p.loss);
  st.set_test_accuracy(p.test_accuracy);
  st.set_heater_power_mw(p.heater_power_mw);
  st.set_mean_heater_power_mw(p.mean_heater_power_mw);
  st.set_heater_energy_mj(s.energy_offset_mj + cost.heater_energy_mj);
  st.set_chip_seconds(s.chip_seconds_offset + cost.chip_seconds);
  if (absl::StatusOr<TemperatureReading> t = controller_.ReadTemperature(); t.ok()) {
    st.set_temperature_c(t->temperature_c);
  } else {
    st.clear_temperature_c();
  }
  if (st.state() == photonic::v1::SESSION_STATE_RUNNING) {
    st.set_wall_seconds(s.wall_offset_s + running_s);
    const double steps_per_s = (p.step - s.steps_at_running_since) / std::max(1e-9, running_s);
    st.set_eta_seconds(steps_per_s > 0 ? (st.max_steps() - p.step) / steps_per_s : 0.0);
  }

  if (!error.ok()) {
    spdlog::error("training session {} failed at step {}: {}", st.id(), p.step, error.ToString());
    Finish(s, photonic::v1::SESSION_STATE_FAILED, std::string(error.message()));
  } else if (s.run->done()) {
    Finish(s, photonic::v1::SESSION_STATE_COMPLETED,
           trainers::StopReasonName(s.run->stop_reason()));
  } else if (shutting_down_) {
    s.pumping = false;
    Checkpoint(s);  // as running: it resumes at the next start
  } else {
    // A periodic checkpoint is written by the next slice, on the worker
    // pool: a synced file write must not hold the hardware.
    if (!state_dir_.empty() && p.step - std::max<std::int64_t>(s.last_checkpoint_step, 0) >=
                                   st.config().checkpoint_every()) {
      s.pending_checkpoint = CheckpointBytes(s);
      s.last_checkpoint_step = p.step;
    }
    Publish(s, false);
    controller_.Post([this, session] { Pump(session); });
  }
}

void SessionManager::Finish(Session& s, SessionState state, const std::string& reason) {
  s.pumping = false;
  s.status.set_state(state);
  s.status.set_termination_reason(reason);
  s.status.set_eta_seconds(0.0);
  controller_.ReleaseWriteLease(WriteLeaseHolder::TrainingSession(s.status.id()));
  spdlog::info("training session {} ended ({}) at step {}: test accuracy {:.3f}", s.status.id(),
               reason, s.status.step(), s.status.test_accuracy());
  Checkpoint(s);
  Publish(s, true);
  // Free the trainer and its data; the status stays listed.
  s.run.reset();
}

std::string SessionManager::CheckpointBytes(const Session& s) const {
  SessionCheckpoint checkpoint;
  checkpoint.set_format_version(1);
  checkpoint.set_chip_instance(chip_instance_);
  *checkpoint.mutable_status() = s.status;
  if (s.run) s.run->Save(checkpoint);
  return checkpoint.SerializeAsString();
}

absl::Status SessionManager::WriteCheckpoint(const std::string& id,
                                             const std::string& bytes) const {
  const std::filesystem::path path = state_dir_ / "sessions" / (id + ".binpb");
  std::error_code ignored;
  std::filesystem::create_directories(path.parent_path(), ignored);
  absl::Status st = WriteFileAtomically(path, bytes);
  if (!st.ok()) spdlog::error("training session {}: checkpoint not written: {}", id, st.ToString());
  return st;
}

void SessionManager::Checkpoint(Session& s) {
  if (state_dir_.empty()) return;
  s.pending_checkpoint.clear();  // older than this one
  // The status written carries the previous write's outcome; this one's
  // shows in the status from now on.
  NoteCheckpoint(s.status, WriteCheckpoint(s.status.id(), CheckpointBytes(s)));
  s.last_checkpoint_step = s.status.step();
}

void SessionManager::Publish(const Session& s, bool last) {
  phc::base::MutexLock lock(&mu_);
  snapshots_[s.status.id()] = s.status;
  auto [begin, end] = watchers_.equal_range(s.status.id());
  for (auto it = begin; it != end;) {
    const bool keep = it->second(s.status, last) && !last;
    it = keep ? std::next(it) : watchers_.erase(it);
  }
}

absl::Status SessionManager::Watch(const std::string& id, SessionWatcher watcher) {
  phc::base::MutexLock lock(&mu_);
  auto it = snapshots_.find(id);
  if (it == snapshots_.end()) {
    return absl::NotFoundError(absl::StrCat("no training session \"", id, "\""));
  }
  const bool ended = Ended(it->second.state());
  if (watcher(it->second, ended) && !ended) watchers_.emplace(id, std::move(watcher));
  return absl::OkStatus();
}

absl::StatusOr<SessionStatus> SessionManager::Pause(const std::string& id) {
  std::shared_ptr<Session> s = Find(id);
  if (!s) return absl::NotFoundError(absl::StrCat("no training session \"", id, "\""));
  if (s->status.state() != photonic::v1::SESSION_STATE_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("session ", id, " is ", photonic::v1::SessionState_Name(s->status.state()),
                     ", not running"));
  }
  // The step in progress on the worker pool ends first: the session stops
  // at that step boundary. A queued slice only checkpoints.
  WaitForSlice(s);
  if (s->status.state() != photonic::v1::SESSION_STATE_RUNNING) return s->status;  // it ended
  s->status.set_state(photonic::v1::SESSION_STATE_PAUSED);
  s->status.set_eta_seconds(0.0);
  s->wall_offset_s = s->status.wall_seconds();
  if (s->run && !s->pumping) Checkpoint(*s);
  Publish(*s, false);
  return s->status;
}

absl::StatusOr<SessionStatus> SessionManager::Resume(const std::string& id) {
  std::shared_ptr<Session> s = Find(id);
  if (!s) return absl::NotFoundError(absl::StrCat("no training session \"", id, "\""));
  if (s->status.state() != photonic::v1::SESSION_STATE_PAUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("session ", id, " is ", photonic::v1::SessionState_Name(s->status.state()),
                     ", not paused"));
  }
  if (absl::Status taken = controller_.TakeWriteLease(WriteLeaseHolder::TrainingSession(id));
      !taken.ok()) {
    return taken;
  }
  s->status.set_state(photonic::v1::SESSION_STATE_RUNNING);
  s->running_since = std::chrono::steady_clock::now();
  s->steps_at_running_since = s->status.step();
  Publish(*s, false);
  if (!s->pumping) {
    s->pumping = true;
    controller_.Post([this, s] { Pump(s); });
  }
  return s->status;
}

absl::StatusOr<SessionStatus> SessionManager::Cancel(const std::string& id) {
  std::shared_ptr<Session> s = Find(id);
  if (!s) return absl::NotFoundError(absl::StrCat("no training session \"", id, "\""));
  if (Ended(s->status.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("session ", id, " has already ended (",
                     photonic::v1::SessionState_Name(s->status.state()), ")"));
  }
  // The step in progress on the worker pool ends first. A session still
  // preparing (loading data, pretraining) ends at once; its preparation is
  // dropped when it is done.
  WaitForSlice(s);
  if (Ended(s->status.state())) return s->status;  // it ended meanwhile
  Finish(*s, photonic::v1::SESSION_STATE_CANCELLED, "cancelled");
  return s->status;
}

absl::StatusOr<SessionStatus> SessionManager::Get(const std::string& id) const {
  std::shared_ptr<Session> s = Find(id);
  if (!s) return absl::NotFoundError(absl::StrCat("no training session \"", id, "\""));
  return s->status;
}

std::vector<SessionStatus> SessionManager::List() const {
  std::vector<SessionStatus> all;
  for (const auto& [id, s] : sessions_) all.push_back(s->status);
  std::sort(all.begin(), all.end(), [](const SessionStatus& a, const SessionStatus& b) {
    return a.created_unix_ms() < b.created_unix_ms();
  });
  return all;
}

void SessionManager::Recover() {
  if (state_dir_.empty()) return;
  std::error_code error;
  const std::filesystem::path dir = state_dir_ / "sessions";
  if (!std::filesystem::is_directory(dir, error)) return;
  std::vector<std::shared_ptr<Session>> running;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() != ".binpb") continue;
    absl::StatusOr<std::string> bytes = ReadFileToString(entry.path());
    auto checkpoint = std::make_unique<SessionCheckpoint>();
    if (!bytes.ok() || !checkpoint->ParseFromString(*bytes) || checkpoint->format_version() != 1) {
      spdlog::warn("ignoring unreadable session checkpoint {}", entry.path().string());
      continue;
    }
    if (checkpoint->chip_instance() != chip_instance_) continue;
    auto s = std::make_shared<Session>();
    s->status = checkpoint->status();
    s->last_checkpoint_step = s->status.step();
    // A checkpoint without trainer state (written at Start, before the
    // first step) starts the session afresh.
    const bool has_run_state = !checkpoint->params_rad().empty() ||
                               !checkpoint->network_state().empty() ||
                               !checkpoint->optimizer_state().empty();
    if (!Ended(s->status.state()) && has_run_state) s->resume_from = std::move(checkpoint);
    if (s->status.state() == photonic::v1::SESSION_STATE_RUNNING) running.push_back(s);
    sessions_[s->status.id()] = s;
    Publish(*s, false);
  }
  // One session can hold the chip: the most recent running one resumes,
  // any other waits paused.
  std::sort(running.begin(), running.end(), [](const auto& a, const auto& b) {
    return a->status.created_unix_ms() > b->status.created_unix_ms();
  });
  for (std::size_t i = 0; i < running.size(); ++i) {
    Session& s = *running[i];
    if (i > 0) {
      s.status.set_state(photonic::v1::SESSION_STATE_PAUSED);
      Publish(s, false);
      continue;
    }
    if (absl::Status taken =
            controller_.TakeWriteLease(WriteLeaseHolder::TrainingSession(s.status.id()));
        !taken.ok()) {
      spdlog::error("training session {} cannot resume: {}", s.status.id(), taken.ToString());
      s.status.set_state(photonic::v1::SESSION_STATE_PAUSED);
      Checkpoint(s);
      Publish(s, false);
      continue;
    }
    s.pumping = true;
    spdlog::info("training session {} resumes at step {}", s.status.id(), s.status.step());
    controller_.Post([this, session = running[i]] { Pump(session); });
  }
}

void SessionManager::Shutdown() {
  shutting_down_ = true;
  // Work on the worker pool stops at its next step boundary (a preparation
  // runs to its end) and hands back; the hardware thread then checkpoints
  // the slices (it runs posted work in order).
  {
    std::unique_lock lock(work_mu_);
    work_cv_.wait(lock, [this] { return working_ == 0; });
  }
  controller_.RunSync([] {});
  controller_.RunSync([this] {
    for (auto& [id, s] : sessions_) {
      if (s->status.state() == photonic::v1::SESSION_STATE_RUNNING && s->run) Checkpoint(*s);
    }
  });
}

}  // namespace phc::daemon
