#include "soak_load.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <thread>

#include "photonic/v1/calibration.grpc.pb.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonic/v1/training.grpc.pb.h"

namespace phc::soak {
namespace {

namespace pb = photonic::v1;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(15);
constexpr auto kStallFor = std::chrono::seconds(3);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// At most one Calibrate started per this many seconds by all clients.
constexpr auto kCalibrateEvery = std::chrono::seconds(90);
std::atomic<std::int64_t> g_last_calibrate_ns{0};

pb::SessionConfig SoakSessionConfig(std::uint64_t seed, int max_steps) {
  pb::SessionConfig c;
  c.set_label("soak");
  for (int w : {8, 4}) c.add_widths(w);
  c.set_dataset("synthetic");
  c.set_train_samples(200);
  c.set_test_samples(50);
  c.set_batch_size(8);
  c.set_max_steps(max_steps);
  c.set_eval_every(10);
  c.set_checkpoint_every(5);
  c.set_seed(seed);
  return c;
}

class LoadClient {
 public:
  LoadClient(int index, std::uint64_t seed, const std::vector<LoadTarget>& targets, Tally& tally)
      : name_("soak-client-" + std::to_string(index)),
        rng_(seed),
        targets_(targets),
        tally_(tally) {}

  void Step() {
    const LoadTarget& target = targets_[Pick(targets_.size())];
    t_ = &target;
    chip_ = pb::ChipService::NewStub(target.daemon->channel());
    training_ = pb::TrainingService::NewStub(target.daemon->channel());
    calibration_ = pb::CalibrationService::NewStub(target.daemon->channel());
    struct Op {
      double weight;
      bool full_mix_only;
      std::function<void()> run;
    };
    const std::vector<Op> ops = {
        {20, false, [&] { Read(); }},          {4, false, [&] { GetPhases(); }},
        {2, false, [&] { ChipInfo(); }},       {3, false, [&] { Temperature(); }},
        {2, false, [&] { GetLease(); }},       {2, false, [&] { ListSessions(); }},
        {1, false, [&] { GetCalibration(); }}, {8, true, [&] { SetPhases(); }},
        {4, true, [&] { SetInputs(); }},       {4, true, [&] { LeasedWrites(); }},
        {8, false, [&] { Query(false); }},     {2, false, [&] { Query(true); }},
        {0.5, false, [&] { StalledQuery(); }}, {0.5, false, [&] { StalledWatch(); }},
        {3, true, [&] { Session(); }},         {1, true, [&] { Calibrate(); }},
        {2, true, [&] { PowerBudget(); }},     {1, true, [&] { Setpoint(); }},
        {8, false, [&] { Malformed(); }},
    };
    double total = 0;
    for (const Op& op : ops) total += (op.full_mix_only && !target.full_mix) ? 0 : op.weight;
    double r = std::uniform_real_distribution<double>(0, total)(rng_);
    for (const Op& op : ops) {
      if (op.full_mix_only && !target.full_mix) continue;
      if ((r -= op.weight) <= 0) {
        op.run();
        break;
      }
    }
    // Pacing, not synchronisation: a daemon that is down (killed, or a lost
    // instrument) answers at once, and a client must not spin on it.
    if (daemon_away_) {
      daemon_away_ = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  std::size_t Pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  bool Chance(double p) { return Uniform(0, 1) < p; }

  void Prepare(grpc::ClientContext& context, std::chrono::milliseconds deadline,
               const std::string& lease = "") {
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    if (!lease.empty()) context.AddMetadata("x-photonicd-lease", lease);
  }

  // Tallies one answer and judges it.
  void Judge(const std::string& kind, const grpc::Status& status, Clock::time_point start,
             bool malformed = false, bool stalled = false) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    const std::string label = t_->daemon->name() + "/" + kind;
    tally_.Request(label, status.error_code(), ms);
    const grpc::StatusCode code = status.error_code();
    daemon_away_ = code == grpc::StatusCode::UNAVAILABLE;
    // The client's own deadline passing is a missing answer; a daemon that
    // answers DEADLINE_EXCEEDED in time (an instrument that did not reply,
    // docs/serial.md) gives a clear status.
    const double deadline_ms = std::chrono::duration<double, std::milli>(kDeadline).count();
    if (code == grpc::StatusCode::DEADLINE_EXCEEDED && !stalled && ms >= 0.95 * deadline_ms) {
      tally_.Violation("no answer within the deadline",
                       label + " after " + std::to_string(ms) + " ms");
    }
    if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN) {
      tally_.Violation("unclear status", label + ": " + status.error_message());
    }
    if (malformed && status.ok()) tally_.Violation("malformed request accepted", label);
  }

  template <typename Stub, typename Request, typename Response, typename Method>
  grpc::Status Unary(Stub& stub, Method method, const Request& request, Response& response,
                     const std::string& kind, bool malformed = false,
                     const std::string& lease = "") {
    grpc::ClientContext context;
    Prepare(context, kDeadline, lease);
    const Clock::time_point start = Clock::now();
    grpc::Status status = (stub.get()->*method)(&context, request, &response);
    Judge(kind, status, start, malformed);
    return status;
  }

  std::vector<double> RandomPhases(int n) {
    std::vector<double> phases(n);
    for (double& p : phases) p = Uniform(0, 2 * std::numbers::pi);
    return phases;
  }

  void Read() {
    pb::ReadDetectorsRequest request;
    request.set_averages(1 + Pick(16));
    pb::ReadDetectorsResponse response;
    grpc::ClientContext context;
    Prepare(context, kDeadline);
    const Clock::time_point start = Clock::now();
    grpc::Status status = chip_->ReadDetectors(&context, request, &response);
    Judge("read_detectors", status, start);
    if (status.ok()) {
      tally_.ReadLatency(t_->daemon->name(),
                         std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  void GetPhases() {
    pb::GetPhasesResponse response;
    Unary(chip_, &pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), response, "get_phases");
  }
  void ChipInfo() {
    pb::ChipInfo response;
    Unary(chip_, &pb::ChipService::Stub::GetChipInfo, pb::GetChipInfoRequest(), response,
          "get_chip_info");
  }
  void Temperature() {
    pb::Temperature response;
    Unary(chip_, &pb::ChipService::Stub::GetTemperature, pb::GetTemperatureRequest(), response,
          "get_temperature");
  }
  void GetLease() {
    pb::Lease response;
    Unary(chip_, &pb::ChipService::Stub::GetLease, pb::GetLeaseRequest(), response, "get_lease");
  }
  void ListSessions() {
    pb::ListSessionsResponse response;
    Unary(training_, &pb::TrainingService::Stub::ListSessions, pb::ListSessionsRequest(), response,
          "list_sessions");
  }
  void GetCalibration() {
    pb::PhaseCalibration response;
    Unary(calibration_, &pb::CalibrationService::Stub::GetCalibration, pb::GetCalibrationRequest(),
          response, "get_calibration");
  }

  pb::SetPhasesRequest PhaseWrite() {
    pb::SetPhasesRequest request;
    if (Chance(0.5)) {
      for (double p : RandomPhases(t_->phases)) request.add_phases_rad(p);
    } else {
      const int n = 1 + static_cast<int>(Pick(8));
      std::vector<int> all(t_->phases);
      for (int i = 0; i < t_->phases; ++i) all[i] = i;
      std::shuffle(all.begin(), all.end(), rng_);
      for (int i = 0; i < n && i < t_->phases; ++i) {
        request.add_indices(all[i]);
        request.add_phases_rad(Uniform(0, 2 * std::numbers::pi));
      }
    }
    return request;
  }
  void SetPhases(const std::string& lease = "") {
    pb::SetPhasesResponse response;
    Unary(chip_, &pb::ChipService::Stub::SetPhases, PhaseWrite(), response,
          lease.empty() ? "set_phases" : "set_phases_leased", false, lease);
  }
  void SetInputs() {
    pb::SetInputsRequest request;
    for (int i = 0; i < t_->inputs; ++i) request.add_amplitudes(Uniform(0, 1));
    pb::SetInputsResponse response;
    Unary(chip_, &pb::ChipService::Stub::SetInputs, request, response, "set_inputs");
  }
  void LeasedWrites() {
    pb::AcquireLeaseRequest acquire;
    acquire.set_holder(name_);
    acquire.set_ttl_seconds(Uniform(0.5, 3.0));
    pb::Lease lease;
    if (!Unary(chip_, &pb::ChipService::Stub::AcquireLease, acquire, lease, "acquire_lease").ok()) {
      return;
    }
    const int writes = 1 + static_cast<int>(Pick(5));
    for (int i = 0; i < writes; ++i) SetPhases(lease.lease_id());
    if (Chance(0.7)) {  // else it lapses
      pb::ReleaseLeaseRequest release;
      release.set_lease_id(lease.lease_id());
      pb::Lease released;
      Unary(chip_, &pb::ChipService::Stub::ReleaseLease, release, released, "release_lease");
    }
  }

  // A pipelined Query stream of 5-100 messages of 1-8 configurations;
  // cancelled half-way when `cancel`.
  void Query(bool cancel) {
    grpc::ClientContext context;
    Prepare(context, kDeadline);
    const Clock::time_point start = Clock::now();
    auto stream = chip_->Query(&context);
    const int messages = 5 + static_cast<int>(Pick(96));
    for (int m = 0; m < messages; ++m) {
      pb::QueryRequest request;
      request.set_tag(m);
      const int count = 1 + static_cast<int>(Pick(8));
      request.set_count(count);
      if (m == 0 && t_->full_mix && Chance(0.5)) {
        for (int c = 0; c < count; ++c) {
          for (double p : RandomPhases(t_->phases)) request.add_phases_rad(p);
        }
      }
      for (int i = 0; i < count * t_->inputs; ++i) request.add_amplitudes(Uniform(0, 1));
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    pb::QueryResponse response;
    int read = 0;
    while (stream->Read(&response)) {
      if (response.tag() != static_cast<std::uint64_t>(read)) {
        tally_.Violation("query answers out of order", t_->daemon->name());
      }
      if (cancel && ++read >= messages / 2) {
        context.TryCancel();
        break;
      }
      if (!cancel) ++read;
    }
    const grpc::Status status = stream->Finish();
    Judge(cancel ? "query_cancelled" : "query", status, start);
  }

  // Writes a Query stream and never reads it: the daemon must not block on
  // this client, and the deadline ends it.
  void StalledQuery() {
    grpc::ClientContext context;
    Prepare(context, kStallFor);
    const Clock::time_point start = Clock::now();
    auto stream = chip_->Query(&context);
    pb::QueryRequest request;
    for (int i = 0; i < t_->inputs; ++i) request.add_amplitudes(0.5);
    for (int m = 0; m < 5000 && stream->Write(request); ++m) {
    }
    Judge("query_stalled", stream->Finish(), start, false, true);
  }
  void StalledWatch() {
    pb::ListSessionsResponse list;
    grpc::ClientContext list_context;
    Prepare(list_context, kDeadline);
    if (!training_->ListSessions(&list_context, pb::ListSessionsRequest(), &list).ok() ||
        list.sessions().empty()) {
      return;
    }
    grpc::ClientContext context;
    Prepare(context, kStallFor);
    const Clock::time_point start = Clock::now();
    pb::SessionRequest request;
    request.set_id(list.sessions(Pick(list.sessions_size())).id());
    auto stream = training_->WatchSession(&context, request);
    pb::SessionStatus status;
    stream->Read(&status);  // then stops reading until the deadline
    Judge("watch_stalled", stream->Finish(), start, false, true);
  }

  void Session() {
    pb::SessionStatus status;
    if (Chance(0.3)) {
      pb::StartSessionRequest request;
      *request.mutable_config() = SoakSessionConfig(rng_(), 10 + static_cast<int>(Pick(50)));
      Unary(training_, &pb::TrainingService::Stub::StartSession, request, status, "start_session");
      return;
    }
    pb::ListSessionsResponse list;
    if (!Unary(training_, &pb::TrainingService::Stub::ListSessions, pb::ListSessionsRequest(), list,
               "list_sessions")
             .ok()) {
      return;
    }
    std::vector<std::string> live;
    for (const pb::SessionStatus& s : list.sessions()) {
      if (s.state() == pb::SESSION_STATE_RUNNING || s.state() == pb::SESSION_STATE_PAUSED) {
        live.push_back(s.id());
      }
    }
    if (live.empty()) return;
    pb::SessionRequest request;
    request.set_id(live[Pick(live.size())]);
    switch (Pick(3)) {
      case 0:
        Unary(training_, &pb::TrainingService::Stub::PauseSession, request, status,
              "pause_session");
        break;
      case 1:
        Unary(training_, &pb::TrainingService::Stub::ResumeSession, request, status,
              "resume_session");
        break;
      default:
        Unary(training_, &pb::TrainingService::Stub::CancelSession, request, status,
              "cancel_session");
    }
  }

  // Starts a small calibration (at most one per kCalibrateEvery among all
  // clients), watches it for a while, then disconnects or cancels it.
  void Calibrate() {
    const std::int64_t now = Clock::now().time_since_epoch().count();
    std::int64_t last = g_last_calibrate_ns.load();
    if (now - last < std::chrono::nanoseconds(kCalibrateEvery).count() ||
        !g_last_calibrate_ns.compare_exchange_strong(last, now)) {
      return;
    }
    pb::CalibrateRequest request;
    request.set_configurations(16);
    request.set_sweep_points(12);
    request.set_averages(4);
    request.set_max_restarts(2);
    request.set_seed(rng_());
    grpc::ClientContext context;
    Prepare(context, kDeadline);
    const Clock::time_point start = Clock::now();
    auto stream = calibration_->Calibrate(&context, request);
    pb::CalibrationProgress progress;
    const auto watch_until = Clock::now() + std::chrono::seconds(1 + Pick(5));
    bool open = true;
    while (Clock::now() < watch_until && (open = stream->Read(&progress))) {
    }
    if (open) context.TryCancel();  // the client goes away; the calibration goes on
    const grpc::Status status = stream->Finish();
    Judge("calibrate", status, start);
    if (Chance(0.3)) {
      pb::CancelCalibrationReply reply;
      Unary(calibration_, &pb::CalibrationService::Stub::CancelCalibration,
            pb::CancelCalibrationRequest(), reply, "cancel_calibration");
    }
  }

  void PowerBudget() {
    const double mw = Uniform(300, t_->description_budget_mw);
    pb::SetPowerBudgetRequest request;
    request.set_max_total_heater_power_mw(mw);
    pb::Limits limits;
    std::lock_guard one_at_a_time(t_->budget->Serialise());
    t_->budget->Sending(mw);
    const grpc::Status status =
        Unary(chip_, &pb::ChipService::Stub::SetPowerBudget, request, limits, "set_power_budget");
    t_->budget->Settled(mw, status.ok());
  }
  void Setpoint() {
    pb::SetTemperatureSetpointRequest request;
    request.set_setpoint_c(25 + Uniform(-2, 2));
    pb::Temperature temperature;
    Unary(chip_, &pb::ChipService::Stub::SetTemperatureSetpoint, request, temperature,
          "set_temperature_setpoint");
  }

  // One request of a kind no daemon may accept.
  void Malformed() {
    const double bad[] = {kNaN, std::numeric_limits<double>::infinity(), -1e300};
    const double bad_value = bad[Pick(3)];
    switch (Pick(12)) {
      case 0: {  // a non-finite or absurd phase
        pb::SetPhasesRequest request = PhaseWrite();
        request.set_phases_rad(static_cast<int>(Pick(request.phases_rad_size())), bad_value);
        pb::SetPhasesResponse response;
        if (bad_value == -1e300) return;  // finite: may wrap, not malformed
        Unary(chip_, &pb::ChipService::Stub::SetPhases, request, response, "malformed", true);
        return;
      }
      case 1: {  // an index past the chip
        pb::SetPhasesRequest request;
        request.add_indices(t_->phases + static_cast<int>(Pick(1000)));
        request.add_phases_rad(1.0);
        pb::SetPhasesResponse response;
        Unary(chip_, &pb::ChipService::Stub::SetPhases, request, response, "malformed", true);
        return;
      }
      case 2: {  // duplicate indices, or more phases than indices
        pb::SetPhasesRequest request;
        request.add_indices(0);
        request.add_phases_rad(1.0);
        request.add_phases_rad(2.0);
        if (Chance(0.5)) request.add_indices(0);
        pb::SetPhasesResponse response;
        Unary(chip_, &pb::ChipService::Stub::SetPhases, request, response, "malformed", true);
        return;
      }
      case 3: {  // an amplitude outside [0, 1] or not a number
        pb::SetInputsRequest request;
        for (int i = 0; i < t_->inputs; ++i) request.add_amplitudes(0.5);
        request.set_amplitudes(static_cast<int>(Pick(t_->inputs)), Chance(0.5) ? 1.5 : kNaN);
        pb::SetInputsResponse response;
        Unary(chip_, &pb::ChipService::Stub::SetInputs, request, response, "malformed", true);
        return;
      }
      case 4: {
        pb::ReadDetectorsRequest request;
        request.set_averages(65537 + static_cast<int>(Pick(1000000)));
        pb::ReadDetectorsResponse response;
        Unary(chip_, &pb::ChipService::Stub::ReadDetectors, request, response, "malformed", true);
        return;
      }
      case 5: {  // a Query message whose count does not match its fields
        grpc::ClientContext context;
        Prepare(context, kDeadline);
        const Clock::time_point start = Clock::now();
        auto stream = chip_->Query(&context);
        pb::QueryRequest request;
        request.set_count(Chance(0.5) ? 5000 : 3);
        for (int i = 0; i < t_->inputs; ++i) request.add_amplitudes(0.5);
        stream->Write(request);
        stream->WritesDone();
        pb::QueryResponse response;
        while (stream->Read(&response)) {
        }
        Judge("malformed", stream->Finish(), start, true);
        return;
      }
      case 6: {
        pb::AcquireLeaseRequest request;
        request.set_holder(name_);
        const double ttl[] = {0, -1, 1e9, kNaN};
        request.set_ttl_seconds(ttl[Pick(4)]);
        pb::Lease lease;
        Unary(chip_, &pb::ChipService::Stub::AcquireLease, request, lease, "malformed", true);
        return;
      }
      case 7: {
        pb::ReleaseLeaseRequest request;
        request.set_lease_id("not-a-lease-" + std::to_string(rng_()));
        pb::Lease lease;
        Unary(chip_, &pb::ChipService::Stub::ReleaseLease, request, lease, "malformed", true);
        return;
      }
      case 8: {
        pb::SetPowerBudgetRequest request;
        const double budget[] = {-1, kNaN, 1e9, 0};
        request.set_max_total_heater_power_mw(budget[Pick(4)]);
        pb::Limits limits;
        Unary(chip_, &pb::ChipService::Stub::SetPowerBudget, request, limits, "malformed", true);
        return;
      }
      case 9: {
        pb::SetTemperatureSetpointRequest request;
        request.set_setpoint_c(Chance(0.5) ? kNaN : 1e6);
        pb::Temperature temperature;
        Unary(chip_, &pb::ChipService::Stub::SetTemperatureSetpoint, request, temperature,
              "malformed", true);
        return;
      }
      case 10: {  // a session config no trainer can run
        pb::StartSessionRequest request;
        *request.mutable_config() = SoakSessionConfig(1, 10);
        switch (Pick(4)) {
          case 0:
            request.mutable_config()->clear_widths();
            break;
          case 1:
            request.mutable_config()->add_widths(1000);
            break;
          case 2:
            request.mutable_config()->set_batch_size(-3);
            break;
          default:
            request.mutable_config()->mutable_algorithm()->set_name("no-such-algorithm");
        }
        pb::SessionStatus status;
        Unary(training_, &pb::TrainingService::Stub::StartSession, request, status, "malformed",
              true);
        return;
      }
      default: {
        pb::SessionRequest request;
        request.set_id("no-such-session-" + std::to_string(rng_()));
        pb::SessionStatus status;
        Unary(training_, &pb::TrainingService::Stub::PauseSession, request, status, "malformed",
              true);
      }
    }
  }

  std::string name_;
  bool daemon_away_ = false;
  std::mt19937_64 rng_;
  const std::vector<LoadTarget>& targets_;
  Tally& tally_;
  const LoadTarget* t_ = nullptr;
  std::unique_ptr<pb::ChipService::Stub> chip_;
  std::unique_ptr<pb::TrainingService::Stub> training_;
  std::unique_ptr<pb::CalibrationService::Stub> calibration_;
};

}  // namespace

void RunLoadClient(int index, std::uint64_t seed, const std::vector<LoadTarget>& targets,
                   Tally& tally, const std::atomic<bool>& stop) {
  LoadClient client(index, seed, targets, tally);
  while (!stop.load()) client.Step();
}

}  // namespace phc::soak
