// photonicd_soak: load, faults and restarts over time, checked from outside
// the daemon.
//
//   photonicd_soak --seconds 60 [--clients 16] [--seed 1] [--json FILE]
//
// Runs photonsim (clements8 behind serial instruments), a photonicd on its
// serial backend, a photonicd on the sim backend (a noiseless chip that
// trains "marathon" sessions) and a reference photonicd, never faulted, that
// trains the same sessions. N clients hammer all three with a random
// mix of requests (soak_load.cc; writes to the serial one only) while faults are injected on a
// schedule: instrument garbage, drops, delays and unplugs, SIGKILL and SIGTERM with restarts on the
// same state dir, a full state disk, TEC clock jumps and corrupt state files. Invariants are
// checked all along:
//   - photonsim's audit (the hidden truth's view of every heater write): no
//     heater above its voltage or current limit, the total never above the
//     budget in force;
//   - the chip safe (all heaters at 0 V) within kSafeWithin of every lost
//     link and every exit;
//   - a killed session resumes with at most checkpoint_every steps lost, and
//     ends bit-identical to the reference's uninterrupted run;
//   - every RPC answered within its deadline with a clear status;
//   - state files parse after every kill; RSS and fds are reported.
// Prints one JSON object; exits 1 on any violation.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/status/status.h"
#include "google/protobuf/text_format.h"
#include "health_check.h"
#include "ideal_chip.h"
#include "photonic/v1/calibration.pb.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonic/v1/training.grpc.pb.h"
#include "soak_budget.h"
#include "soak_load.h"
#include "soak_processes.h"
#include "soak_tally.h"

namespace phc::soak {
namespace {

namespace fs = std::filesystem;
namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

constexpr auto kSafeWithin = std::chrono::seconds(10);
constexpr auto kStartRetriesFor = std::chrono::seconds(15);
constexpr int kMarathonCheckpointEvery = 10;
// clements8's limits (deploy/chips/clements8.textproto).
constexpr double kMaxVolts = 10.0;
constexpr double kMaxMilliamps = 10.0;
constexpr double kDescriptionBudgetMw = 2500.0;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Options {
  int seconds = 60;
  int clients = 16;
  std::uint64_t seed = 1;
  double fault_every_s = 3.0;
  int marathon_steps = 20000;
  std::string json;
};

// A daemon's memory and descriptors over one life (start to stop).
struct Life {
  Clock::time_point start;
  ProcessFootprint first;  // after kWarmUp
  ProcessFootprint last;
  Clock::time_point last_at;
};
constexpr auto kWarmUp = std::chrono::seconds(5);

class Soak {
 public:
  explicit Soak(Options options) : options_(std::move(options)), rng_(options_.seed) {}

  int Run();

 private:
  bool SetUp();
  void TearDown();
  std::optional<HeaterAudit> Audit();
  void AuditLoop();
  void FaultLoop();
  void MarathonLoop();
  void InjectFault(const std::string& kind);
  void StopSerial(int signal_number, const std::string& why);
  void RestartSerial(int signal_number, const std::string& why);
  void RestartSim(int signal_number);
  // Starts a stopped daemon, retrying for kStartRetriesFor (an instrument
  // may be unplugged for a while: the serial daemon needs every one).
  void StartDaemon(Daemon& daemon, const std::string& why);
  // Restarts a daemon that died on its own.
  void ReviveDead();
  void FullDisk();
  void CorruptStateFile();
  void CheckStateFiles(const fs::path& dir, const std::string& who);
  void ExpectSafeFrom(Clock::time_point from, const std::string& why);
  void SampleFootprints();
  std::string Report(double elapsed_s);
  void Progress(double elapsed_s);

  std::optional<pb::SessionStatus> GetSession(Daemon& daemon, const std::string& id,
                                              grpc::StatusCode* code = nullptr);
  std::optional<std::string> StartMarathon(Daemon& daemon, std::uint64_t seed);
  bool ZeroPhases(Daemon& daemon);

  Options options_;
  std::mt19937_64 rng_;
  fs::path dir_;
  bool tmpfs_ = false;
  std::unique_ptr<Photonsim> photonsim_;
  std::unique_ptr<Daemon> serial_, sim_, reference_;
  BudgetTracker budget_{kDescriptionBudgetMw};
  Tally tally_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> audit_stop_{false};

  std::mutex audit_mu_;
  std::mutex safe_mu_;
  struct SafeCheck {
    Clock::time_point from;
    std::string why;
  };
  std::vector<SafeCheck> pending_safe_;
  std::mutex marathon_mu_;
  std::string marathon_id_;  // on sim_, while one runs
  long marathons_compared_ = 0;
  long marathons_identical_ = 0;
  std::map<std::string, std::vector<Life>> lives_;
  std::map<std::string, fs::file_time_type> corrupted_;  // path -> mtime we left
};

bool Soak::SetUp() {
  char dir_template[] = "/tmp/soakXXXXXX";
  if (mkdtemp(dir_template) == nullptr) return false;
  dir_ = dir_template;
  const fs::path serial_state = dir_ / "serial-state";
  fs::create_directories(serial_state);
  // A small tmpfs of its own, so that a full disk is a real ENOSPC (root
  // only; otherwise the full-disk fault is skipped and said so).
  tmpfs_ = ::mount("soak", serial_state.c_str(), "tmpfs", 0, "size=4m") == 0;
  fs::copy_file(fs::path(PHC_SOURCE_DIR) / "deploy/chips/clements8.textproto",
                dir_ / "clements8.textproto");
  // The sim daemon's and the reference's chip: no fabrication errors, noise
  // or settling, so two runs of one session are bit-identical.
  std::ofstream(dir_ / "ideal8.textproto") << kIdealChip << "tec { setpoint_c: 25 }\n";
  std::ofstream(dir_ / "serial.textproto")
      << "chip_file: \"clements8.textproto\"\nbackend: BACKEND_SERIAL\n"
      << "serial { heaters: \"heaters\" modulators: \"modulators\" adc: \"adc\" tec: \"tec\" }\n"
      << "state_dir: \"" << serial_state.string() << "\"\n";
  for (const char* name : {"sim", "ref"}) {
    std::ofstream(dir_ / (std::string(name) + ".textproto"))
        << "chip_file: \"ideal8.textproto\"\nbackend: BACKEND_SIM\nsim { seed: 3 }\n"
        << "state_dir: \"" << (dir_ / (std::string(name) + "-state")).string() << "\"\n";
  }
  photonsim_ = std::make_unique<Photonsim>(PHOTONSIM_PATH, (dir_ / "clements8.textproto").string(),
                                           options_.seed, dir_.string());
  if (!photonsim_->ready()) {
    std::fprintf(stderr, "soak: photonsim did not start\n");
    return false;
  }
  serial_ = std::make_unique<Daemon>("serial", PHOTONICD_PATH, dir_ / "serial.textproto",
                                     dir_ / "serial.sock");
  sim_ = std::make_unique<Daemon>("sim", PHOTONICD_PATH, dir_ / "sim.textproto", dir_ / "sim.sock");
  reference_ = std::make_unique<Daemon>("reference", PHOTONICD_PATH, dir_ / "ref.textproto",
                                        dir_ / "ref.sock");
  for (Daemon* d : {serial_.get(), sim_.get(), reference_.get()}) {
    if (!d->Start()) {
      std::fprintf(stderr, "soak: %s\n", d->last_error().c_str());
      return false;
    }
    lives_[d->name()].push_back({Clock::now(), {}, {}, Clock::now()});
  }
  return true;
}

void Soak::TearDown() {
  for (Daemon* d : {serial_.get(), sim_.get(), reference_.get()}) {
    if (d != nullptr && d->running()) d->Stop(SIGTERM);
  }
  photonsim_.reset();
  if (tmpfs_) ::umount2((dir_ / "serial-state").c_str(), MNT_DETACH);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

// One audit window: limits against what the chip actually received. Every
// audit goes through here (the windows follow each other), and each is judged.
std::optional<HeaterAudit> Soak::Audit() {
  std::lock_guard audit_lock(audit_mu_);
  double allowed_mw = budget_.EndWindow();
  std::optional<HeaterAudit> audit = photonsim_->Audit();
  // A raise sent while the audit was on its way may already have been used.
  allowed_mw = std::max(allowed_mw, budget_.Peek());
  if (!audit.has_value()) {
    tally_.Violation("photonsim audit failed", "no answer");
    return audit;
  }
  char detail[160];
  if (audit->max_volts_v > kMaxVolts * (1 + 1e-12)) {
    std::snprintf(detail, sizeof detail, "heater %d at %.6f V (limit %.1f V)",
                  audit->max_volts_channel, audit->max_volts_v, kMaxVolts);
    tally_.Violation("heater voltage above its limit", detail);
  }
  if (audit->max_current_ma > kMaxMilliamps * (1 + 1e-12)) {
    std::snprintf(detail, sizeof detail, "heater %d at %.6f mA (limit %.1f mA)",
                  audit->max_current_channel, audit->max_current_ma, kMaxMilliamps);
    tally_.Violation("heater current above its limit", detail);
  }
  if (audit->max_total_power_mw > allowed_mw * (1 + 1e-9)) {
    std::snprintf(detail, sizeof detail, "%.3f mW drawn (budget %.3f mW)",
                  audit->max_total_power_mw, allowed_mw);
    tally_.Violation("total heater power above the budget", detail);
  }
  tally_.Figure("max_total_heater_power_mw", audit->max_total_power_mw);
  tally_.Figure("max_heater_current_ma", audit->max_current_ma);
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(safe_mu_);
  for (auto it = pending_safe_.begin(); it != pending_safe_.end();) {
    // photonsim says when every heater was last at 0 V, on the same steady
    // clock: safe after the event if that moment came after it.
    if (audit->heaters_off_at >= it->from) {
      tally_.Figure(
          "time_to_safe_ms/" + it->why,
          std::chrono::duration<double, std::milli>(audit->heaters_off_at - it->from).count());
      it = pending_safe_.erase(it);
    } else if (now - it->from > kSafeWithin) {
      tally_.Violation("chip not safe in time", it->why);
      it = pending_safe_.erase(it);
    } else {
      ++it;
    }
  }
  return audit;
}

void Soak::ExpectSafeFrom(Clock::time_point from, const std::string& why) {
  std::lock_guard lock(safe_mu_);
  pending_safe_.push_back({from, why});
}

void Soak::AuditLoop() {
  auto next_sample = Clock::now();
  while (!audit_stop_.load()) {
    Audit();
    for (Daemon* d : {serial_.get(), sim_.get(), reference_.get()}) {
      if (d->TakeDeath()) {
        std::string tail;
        const std::vector<std::string> lines = d->LastLines();
        for (std::size_t i = lines.size() > 6 ? lines.size() - 6 : 0; i < lines.size(); ++i) {
          tail += " | " + lines[i];
        }
        tally_.Violation("daemon died", d->name() + tail);
      }
    }
    if (Clock::now() >= next_sample) {
      SampleFootprints();
      next_sample += std::chrono::seconds(1);
    }
    // Pacing: one audit window per 100 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Soak::SampleFootprints() {
  std::lock_guard lock(marathon_mu_);
  for (Daemon* d : {serial_.get(), sim_.get(), reference_.get()}) {
    const int pid = d->pid();
    if (pid <= 0) continue;
    Life& life = lives_[d->name()].back();
    if (Clock::now() - life.start < kWarmUp) continue;
    const ProcessFootprint f = Footprint(pid);
    if (f.rss_kb < 0) continue;
    if (life.first.rss_kb < 0) life.first = f;
    life.last = f;
    life.last_at = Clock::now();
  }
}

std::optional<pb::SessionStatus> Soak::GetSession(Daemon& daemon, const std::string& id,
                                                  grpc::StatusCode* code) {
  auto stub = pb::TrainingService::NewStub(daemon.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  pb::SessionRequest request;
  request.set_id(id);
  pb::SessionStatus status;
  const grpc::Status answer = stub->GetSession(&context, request, &status);
  if (code != nullptr) *code = answer.error_code();
  if (!answer.ok()) return std::nullopt;
  return status;
}

bool Soak::ZeroPhases(Daemon& daemon) {
  auto stub = pb::ChipService::NewStub(daemon.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  pb::SetPhasesRequest request;
  for (int i = 0; i < 56; ++i) request.add_phases_rad(0.0);
  pb::SetPhasesResponse response;
  return stub->SetPhases(&context, request, &response).ok();
}

std::optional<std::string> Soak::StartMarathon(Daemon& daemon, std::uint64_t seed) {
  auto stub = pb::TrainingService::NewStub(daemon.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  pb::StartSessionRequest request;
  pb::SessionConfig& c = *request.mutable_config();
  c.set_label("marathon");
  for (int w : {8, 4}) c.add_widths(w);
  c.set_dataset("synthetic");
  c.set_train_samples(200);
  c.set_test_samples(50);
  c.set_batch_size(8);
  c.set_max_steps(options_.marathon_steps);
  c.set_eval_every(50);
  c.set_checkpoint_every(kMarathonCheckpointEvery);
  c.set_seed(seed);
  pb::SessionStatus status;
  if (!stub->StartSession(&context, request, &status).ok()) return std::nullopt;
  return status.id();
}

// Sessions on the sim daemon (killed now and then) and on the reference
// (never): equal seeds, equal chips, so equal final parameters.
void Soak::MarathonLoop() {
  std::uint64_t seed = options_.seed * 1000;
  while (!stop_.load()) {
    ++seed;
    std::optional<std::string> ref_id, sim_id;
    while (!stop_.load() && !ref_id) {
      if (ZeroPhases(*reference_) && (ref_id = StartMarathon(*reference_, seed))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // pacing
    }
    while (!stop_.load() && !sim_id) {
      if (ZeroPhases(*sim_) && (sim_id = StartMarathon(*sim_, seed))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // pacing while it restarts
    }
    if (!sim_id) return;
    {
      std::lock_guard lock(marathon_mu_);
      marathon_id_ = *sim_id;
    }
    auto ended = [](const std::optional<pb::SessionStatus>& s) {
      return s && s->state() != pb::SESSION_STATE_RUNNING && s->state() != pb::SESSION_STATE_PAUSED;
    };
    std::optional<pb::SessionStatus> ref, sim;
    bool lost = false;
    while (!stop_.load() && !lost && !(ended(ref) && ended(sim))) {
      grpc::StatusCode code = grpc::StatusCode::OK;
      if (!ended(ref)) ref = GetSession(*reference_, *ref_id);
      if (!ended(sim)) sim = GetSession(*sim_, *sim_id, &code);
      if (code == grpc::StatusCode::NOT_FOUND) {
        tally_.Violation("session lost after a restart", *sim_id);
        lost = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling pace
    }
    {
      std::lock_guard lock(marathon_mu_);
      marathon_id_.clear();
    }
    if (lost) continue;
    if (!ended(ref) || !ended(sim)) return;  // the run is over
    pb::SessionCheckpoint ref_checkpoint, sim_checkpoint;
    std::ifstream ref_file(dir_ / "ref-state/sessions" / (*ref_id + ".binpb"));
    std::ifstream sim_file(dir_ / "sim-state/sessions" / (*sim_id + ".binpb"));
    const bool parsed =
        ref_checkpoint.ParseFromIstream(&ref_file) && sim_checkpoint.ParseFromIstream(&sim_file);
    ++marathons_compared_;
    const bool same =
        parsed && !ref_checkpoint.params_rad().empty() && sim->state() == ref->state() &&
        sim->step() == ref->step() &&
        std::equal(ref_checkpoint.params_rad().begin(), ref_checkpoint.params_rad().end(),
                   sim_checkpoint.params_rad().begin(), sim_checkpoint.params_rad().end());
    if (same) {
      ++marathons_identical_;
    } else {
      tally_.Violation("resumed session differs from the uninterrupted one",
                       *sim_id + " vs " + *ref_id + " (steps " + std::to_string(sim->step()) +
                           " / " + std::to_string(ref->step()) + ", " + sim->termination_reason() +
                           ")");
    }
  }
}

void Soak::CheckStateFiles(const fs::path& dir, const std::string& who) {
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file()) continue;
    const fs::path& path = it->path();
    auto corrupt = corrupted_.find(path.string());
    if (corrupt != corrupted_.end() && fs::last_write_time(path, error) == corrupt->second) {
      continue;  // our own damage, not rewritten since
    }
    if (path.extension() == ".tmp" || path.filename() == "filler") continue;
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    bool ok = true;
    if (path.parent_path().filename() == "sessions" && path.extension() == ".binpb") {
      pb::SessionCheckpoint checkpoint;
      ok = checkpoint.ParseFromString(bytes.str()) && checkpoint.format_version() == 1;
    } else if (path.string().ends_with(".calibration.textproto")) {
      pb::PhaseCalibration calibration;
      ok = google::protobuf::TextFormat::ParseFromString(bytes.str(), &calibration);
    } else {
      ok = !bytes.str().empty();
    }
    if (!ok) tally_.Violation("half-written state file", who + ": " + path.string());
  }
}

std::string LastLinesOf(const Daemon& daemon, std::size_t count) {
  std::string tail;
  const std::vector<std::string> lines = daemon.LastLines();
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    tail += " | " + lines[i];
  }
  return tail;
}

// Stops the serial daemon. After SIGTERM it must exit 0 with every heater at
// 0 V; after any stop, every state file must parse.
void Soak::StopSerial(int signal_number, const std::string& why) {
  const int code = serial_->Stop(signal_number);
  if (signal_number == SIGTERM) {
    if (code != 0) {
      tally_.Violation("SIGTERM exit", "serial daemon exited " + std::to_string(code) + " (" + why +
                                           ")" + LastLinesOf(*serial_, 4));
    }
    // Every heater at 0 V at the exit (the audit is judged against the
    // limits as every other).
    const Clock::time_point exited = Clock::now();
    std::optional<HeaterAudit> after = Audit();
    if (!after || after->heaters_off_at < exited) {
      tally_.Violation("chip not safe at exit", "after SIGTERM (" + why + ")");
    }
  }
  CheckStateFiles(dir_ / "serial-state", "serial");
}

void Soak::StartDaemon(Daemon& daemon, const std::string& why) {
  const Clock::time_point start = Clock::now();
  {
    std::lock_guard lock(marathon_mu_);
    lives_[daemon.name()].push_back({start, {}, {}, start});
  }
  if (&daemon == serial_.get()) {
    // Before the start: a session resumed at start may use the whole budget.
    budget_.Restarted(kDescriptionBudgetMw);
    ExpectSafeFrom(start, "serial daemon start");
  }
  int attempts = 1;
  while (!daemon.Start()) {
    if (Clock::now() - start > kStartRetriesFor) {
      tally_.Violation("daemon did not restart",
                       daemon.name() + " (" + why + "): " + daemon.last_error());
      return;
    }
    ++attempts;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // retry pace
  }
  tally_.Figure("start_ms/" + daemon.name(),
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  if (attempts > 1) tally_.Figure("start_attempts/" + daemon.name(), attempts);
}

void Soak::RestartSerial(int signal_number, const std::string& why) {
  StopSerial(signal_number, why);
  StartDaemon(*serial_, why);
}

void Soak::ReviveDead() {
  for (Daemon* d : {serial_.get(), sim_.get(), reference_.get()}) {
    if (!d->dead()) continue;
    d->Stop(SIGKILL);  // reaps it
    StartDaemon(*d, "after it died");
  }
}

void Soak::RestartSim(int signal_number) {
  std::string id;
  {
    std::lock_guard lock(marathon_mu_);
    id = marathon_id_;
  }
  // The step of its last finished slice: the session may step further
  // before the signal lands, so the loss measured is a lower bound.
  std::optional<pb::SessionStatus> before;
  if (!id.empty()) before = GetSession(*sim_, id);
  const int code = sim_->Stop(signal_number);
  if (signal_number == SIGTERM && code != 0) {
    tally_.Violation("SIGTERM exit",
                     "sim daemon exited " + std::to_string(code) + LastLinesOf(*sim_, 4));
  }
  CheckStateFiles(dir_ / "sim-state", "sim");
  if (before && before->state() == pb::SESSION_STATE_RUNNING) {
    pb::SessionCheckpoint checkpoint;
    std::ifstream file(dir_ / "sim-state/sessions" / (id + ".binpb"));
    const long saved = checkpoint.ParseFromIstream(&file) ? checkpoint.status().step() : 0;
    const long lost = before->step() - saved;
    tally_.Figure(signal_number == SIGKILL ? "lost_steps/SIGKILL" : "lost_steps/SIGTERM",
                  static_cast<double>(std::max(0L, lost)));
    if (lost > kMarathonCheckpointEvery) {
      tally_.Violation("session steps lost beyond checkpoint_every",
                       id + ": " + std::to_string(lost) + " steps");
    }
  }
  StartDaemon(*sim_, signal_number == SIGKILL ? "SIGKILL" : "SIGTERM");
}

void Soak::FullDisk() {
  if (!tmpfs_) {
    tally_.Fault("full_disk (skipped: no tmpfs, not root)");
    return;
  }
  const fs::path filler = dir_ / "serial-state" / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(64 * 1024, '\0');
    for (int i = 0; i < 1024 && out.write(block.data(), block.size()); ++i) {
    }
  }
  // Four seconds of a full disk under load: the daemon keeps answering
  // (NOT_SERVING is its answer while an instrument link is down).
  const Clock::time_point until = Clock::now() + std::chrono::seconds(4);
  while (Clock::now() < until) {
    if (testing::CheckHealth(serial_->channel()) == testing::Serving::kCallFailed) {
      tally_.Violation("not answering with a full disk", "health check");
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // probing pace
  }
  std::error_code ignored;
  fs::remove(filler, ignored);
}

void Soak::CorruptStateFile() {
  std::vector<fs::path> files;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir_ / "serial-state", error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_regular_file() && it->path().extension() != ".tmp") files.push_back(it->path());
  }
  if (files.empty()) {
    tally_.Fault("corrupt_file (skipped: no state file yet)");
    return;
  }
  StopSerial(SIGTERM, "before corrupting a state file");
  const fs::path victim =
      files[std::uniform_int_distribution<std::size_t>(0, files.size() - 1)(rng_)];
  const auto size = fs::file_size(victim, error);
  if (std::uniform_int_distribution<int>(0, 1)(rng_) == 0) {
    fs::resize_file(victim, size / 2, error);
  } else {
    std::ofstream(victim, std::ios::binary) << "\x08\xff\xff garbage \x01\x02";
  }
  corrupted_[victim.string()] = fs::last_write_time(victim, error);
  StartDaemon(*serial_, "with a corrupt " + victim.filename().string());
  if (!serial_->running()) {
    // Keep the run going without the file (the violation is counted).
    fs::remove(victim, error);
    StartDaemon(*serial_, "without the corrupt file");
  }
}

void Soak::InjectFault(const std::string& kind) {
  std::uniform_int_distribution<int> role_pick(0, 3);
  const std::string roles[] = {"heaters", "modulators", "adc", "tec"};
  const std::string role = roles[role_pick(rng_)];
  const auto between = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  };
  if (kind == "garbage" || kind == "drop") {
    photonsim_->Command(kind + " " + role + " " + std::to_string(between(1, 5)));
    tally_.Fault(kind + " " + role);
  } else if (kind == "delay") {
    photonsim_->Command("delay " + role + " " + std::to_string(between(20, 300)));
    tally_.Fault("delay " + role);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the fault lasts 2 s
    photonsim_->Command("delay " + role + " 0");
  } else if (kind == "unplug") {
    const int ms = between(300, 3000);
    photonsim_->Command("unplug " + role + " " + std::to_string(ms));
    tally_.Fault("unplug " + role);
    if (role == "heaters") {
      ExpectSafeFrom(Clock::now() + std::chrono::milliseconds(ms), "heaters replugged");
    } else if (role != "tec") {
      ExpectSafeFrom(Clock::now(), role + " unplugged");
    }
  } else if (kind == "kill_serial" || kind == "term_serial") {
    RestartSerial(kind == "kill_serial" ? SIGKILL : SIGTERM, kind);
    tally_.Fault(kind == "kill_serial" ? "SIGKILL serial daemon" : "SIGTERM serial daemon");
  } else if (kind == "kill_sim" || kind == "term_sim") {
    RestartSim(kind == "kill_sim" ? SIGKILL : SIGTERM);
    tally_.Fault(kind == "kill_sim" ? "SIGKILL sim daemon" : "SIGTERM sim daemon");
  } else if (kind == "full_disk") {
    FullDisk();
    tally_.Fault("full state disk (4 s)");
  } else if (kind == "tec_jump") {
    photonsim_->Command("jump tec " + std::to_string(between(-5000, 60000)));
    tally_.Fault("TEC clock jump");
  } else if (kind == "corrupt_file") {
    CorruptStateFile();
    tally_.Fault("corrupt state file");
  }
}

void Soak::FaultLoop() {
  const std::vector<std::string> cycle = {"garbage",     "drop",         "delay",       "unplug",
                                          "kill_serial", "garbage",      "term_serial", "unplug",
                                          "kill_sim",    "full_disk",    "tec_jump",    "drop",
                                          "term_sim",    "corrupt_file", "unplug",      "delay"};
  const auto end = Clock::now() + std::chrono::seconds(options_.seconds);
  std::size_t next = 0;
  while (Clock::now() < end) {
    // Pacing: faults are spread over the run.
    const auto gap = std::chrono::duration<double>(
        std::uniform_real_distribution<double>(0.5, 1.5)(rng_) * options_.fault_every_s);
    const auto at = std::min(end, Clock::now() + std::chrono::duration_cast<Clock::duration>(gap));
    while (Clock::now() < at) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(at - Clock::now(), std::chrono::seconds(1)));
    }
    if (Clock::now() >= end) break;
    ReviveDead();
    InjectFault(cycle[next++ % cycle.size()]);
  }
}

void Soak::Progress(double elapsed_s) {
  const Tally::Snapshot s = tally_.Take();
  long requests = 0, faults = 0;
  for (const auto& [kind, codes] : s.requests) {
    for (const auto& [code, n] : codes) requests += n;
  }
  for (const auto& [kind, n] : s.faults) faults += n;
  std::fprintf(stderr, "soak: %4.0f s  %ld requests  %ld faults  %ld violations\n", elapsed_s,
               requests, faults, tally_.violation_count());
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

std::string Soak::Report(double elapsed_s) {
  const Tally::Snapshot s = tally_.Take();
  std::ostringstream j;
  j.precision(6);
  j << "{\n  \"seconds\": " << elapsed_s << ", \"clients\": " << options_.clients
    << ", \"seed\": " << options_.seed << ", \"full_disk_tmpfs\": " << (tmpfs_ ? "true" : "false")
    << ",\n  \"requests\": {";
  bool first = true;
  for (const auto& [kind, codes] : s.requests) {
    j << (first ? "\n" : ",\n") << "    " << Quote(kind) << ": {";
    first = false;
    bool first_code = true;
    for (const auto& [code, n] : codes) {
      j << (first_code ? "" : ", ") << Quote(CodeName(code)) << ": " << n;
      first_code = false;
    }
    j << ", \"max_ms\": " << s.max_latency_ms.at(kind) << "}";
  }
  j << "\n  },\n  \"read_latency_ms\": {";
  first = true;
  for (auto [daemon, latencies] : s.read_latency_ms) {
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) {
      return latencies[static_cast<std::size_t>(q * (latencies.size() - 1))];
    };
    j << (first ? "" : ", ") << Quote(daemon) << ": {\"count\": " << latencies.size()
      << ", \"p50\": " << at(0.5) << ", \"p99\": " << at(0.99) << ", \"max\": " << latencies.back()
      << "}";
    first = false;
  }
  j << "},\n  \"faults\": {";
  first = true;
  for (const auto& [kind, n] : s.faults) {
    j << (first ? "" : ", ") << Quote(kind) << ": " << n;
    first = false;
  }
  j << "},\n  \"restarts\": {\"serial\": " << serial_->restarts()
    << ", \"sim\": " << sim_->restarts()
    << "},\n  \"marathons\": {\"compared\": " << marathons_compared_
    << ", \"identical\": " << marathons_identical_ << "},\n  \"figures\": {";
  first = true;
  for (const auto& [name, f] : s.figures) {
    j << (first ? "\n" : ",\n") << "    " << Quote(name) << ": {\"count\": " << f.count
      << ", \"max\": " << f.max << ", \"sum\": " << f.sum << "}";
    first = false;
  }
  j << "\n  },\n  \"footprint\": {";
  first = true;
  for (const auto& [name, lives] : lives_) {
    // The longest life: its growth from after warm-up to its last sample.
    const Life* longest = nullptr;
    for (const Life& life : lives) {
      if (life.first.rss_kb < 0) continue;
      if (!longest || life.last_at - life.start > longest->last_at - longest->start)
        longest = &life;
    }
    if (!longest) continue;
    j << (first ? "\n" : ",\n") << "    " << Quote(name) << ": {\"lives\": " << lives.size()
      << ", \"longest_life_s\": " << Seconds(longest->last_at - longest->start)
      << ", \"rss_kb_first\": " << longest->first.rss_kb
      << ", \"rss_kb_last\": " << longest->last.rss_kb
      << ", \"fds_first\": " << longest->first.open_fds
      << ", \"fds_last\": " << longest->last.open_fds << "}";
    first = false;
  }
  j << "\n  },\n  \"violations\": {";
  first = true;
  for (const auto& [kind, n] : s.violations) {
    j << (first ? "" : ", ") << Quote(kind) << ": " << n;
    first = false;
  }
  j << "},\n  \"violation_details\": [";
  first = true;
  for (const std::string& d : s.violation_details) {
    j << (first ? "\n    " : ",\n    ") << Quote(d);
    first = false;
  }
  j << "\n  ],\n  \"daemon_errors\": [";
  first = true;
  // One line per kind of error (its first 50 characters, digits aside).
  for (Daemon* d : {serial_.get(), sim_.get()}) {
    std::map<std::string, long> seen;
    for (const std::string& line : d->ErrorLines()) {
      const std::size_t level = line.find("] [", line.find("[photonicd]"));
      std::string key;
      for (char c : line.substr(level == std::string::npos ? 0 : level, 60)) {
        if (!std::isdigit(static_cast<unsigned char>(c))) key += c;
      }
      if (seen[key]++ > 0) continue;
      j << (first ? "\n    " : ",\n    ") << Quote(d->name() + ": " + line.substr(0, 400));
      first = false;
    }
  }
  j << "\n  ]\n}\n";
  return j.str();
}

int Soak::Run() {
  if (!SetUp()) {
    TearDown();
    return 2;
  }
  const Clock::time_point start = Clock::now();
  std::thread audit([this] { AuditLoop(); });
  std::thread marathon([this] { MarathonLoop(); });
  const std::vector<LoadTarget> targets = {
      {serial_.get(), true, &budget_, 56, 8, kDescriptionBudgetMw},
      {serial_.get(), true, &budget_, 56, 8, kDescriptionBudgetMw},
      {sim_.get(), false, nullptr, 56, 8, 1500},
      // Never faulted: its memory and descriptors over the whole run.
      {reference_.get(), false, nullptr, 56, 8, 1500},
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < options_.clients; ++i) {
    clients.emplace_back([this, i, &targets] {
      RunLoadClient(i, options_.seed * 7919 + i, targets, tally_, stop_);
    });
  }
  std::thread faults([this] { FaultLoop(); });
  while (Clock::now() - start < std::chrono::seconds(options_.seconds)) {
    std::this_thread::sleep_for(std::chrono::seconds(10));  // progress pace
    Progress(Seconds(Clock::now() - start));
  }
  faults.join();
  stop_ = true;
  for (std::thread& c : clients) c.join();
  marathon.join();
  // Every daemon stops as a service manager would stop it: SIGTERM, exit 0,
  // the chip safe.
  ReviveDead();
  StopSerial(SIGTERM, "end of the run");
  for (Daemon* d : {sim_.get(), reference_.get()}) {
    if (const int code = d->Stop(SIGTERM); code != 0) {
      tally_.Violation("SIGTERM exit", d->name() + " daemon exited " + std::to_string(code) +
                                           " at the end" + LastLinesOf(*d, 4));
    }
  }
  if (marathons_compared_ == 0) {
    tally_.Violation("no marathon session compared", "the run was too short to finish one");
  }
  // Last: every pending safe-state check gets its time.
  const auto settle = Clock::now() + kSafeWithin;
  while (Clock::now() < settle) {
    {
      std::lock_guard lock(safe_mu_);
      if (pending_safe_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  audit_stop_ = true;
  audit.join();
  const double elapsed = Seconds(Clock::now() - start);
  const std::string report = Report(elapsed);
  std::fputs(report.c_str(), stdout);
  if (!options_.json.empty()) std::ofstream(options_.json) << report;
  const long violations = tally_.violation_count();
  TearDown();
  return violations == 0 ? 0 : 1;
}

}  // namespace
}  // namespace phc::soak

int main(int argc, char** argv) {
  CLI::App app{"photonicd_soak: load, faults and restarts, checked from outside the daemon"};
  phc::soak::Options options;
  app.add_option("--seconds", options.seconds, "how long to run")->check(CLI::Range(10, 86400));
  app.add_option("--clients", options.clients, "client threads")->check(CLI::Range(1, 256));
  app.add_option("--seed", options.seed, "for the chip, the clients and the fault schedule");
  app.add_option("--fault-every", options.fault_every_s, "mean seconds between faults")
      ->check(CLI::Range(0.5, 3600.0));
  app.add_option("--marathon-steps", options.marathon_steps, "steps of each compared session")
      ->check(CLI::Range(20, 1000000));
  app.add_option("--json", options.json, "also write the report here");
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  return phc::soak::Soak(options).Run();
}
