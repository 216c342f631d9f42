#include "daemon/services/chip_service.h"

#include <chrono>
#include <deque>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/services/service_refusal.h"
#include "daemon/services/write_admission.h"
#include "daemon/status_convert.h"
#include "phc/base/mutex.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

using photonic::v1::QueryRequest;
using photonic::v1::QueryResponse;

template <typename Repeated>
std::span<const typename Repeated::value_type> AsSpan(const Repeated& field) {
  return {field.data(), static_cast<std::size_t>(field.size())};
}

template <typename Response>
void FillPhases(const PhaseState& state, Response& response) {
  response.mutable_heater_power_mw()->Assign(state.heater_power_mw.begin(),
                                             state.heater_power_mw.end());
  response.set_total_heater_power_mw(state.total_heater_power_mw);
  response.set_heater_energy_mj(state.heater_energy_mj);
}

template <typename Response>
void FillReading(const DetectorReading& reading, Response& response) {
  response.mutable_photocurrent_ua()->Assign(reading.photocurrent_ua.begin(),
                                             reading.photocurrent_ua.end());
  response.mutable_optical_power_mw()->Assign(reading.optical_power_mw.begin(),
                                              reading.optical_power_mw.end());
}

// The configurations of one Query message, as rows over its flat fields;
// INVALID_ARGUMENT if the fields do not hold `count` rows.
absl::StatusOr<std::vector<QueryConfig>> ConfigsOf(const QueryRequest& request, int phase_count,
                                                   int input_count) {
  const std::uint32_t count = request.count() == 0 ? 1 : request.count();
  if (count > kMaxQueryCount) {
    return absl::InvalidArgumentError(absl::StrCat("count = ", count, " is over the limit of ",
                                                   kMaxQueryCount, " configurations per message"));
  }
  auto rows = [count](int size, int width, const char* name) -> absl::StatusOr<std::size_t> {
    if (size == 0) return 0;
    if (count == 1) return size;  // the single form: the controller checks the size
    if (static_cast<std::uint64_t>(size) != static_cast<std::uint64_t>(count) * width) {
      return absl::InvalidArgumentError(absl::StrCat(name, " has ", size, " entries; count x ",
                                                     width, " = ", count * width,
                                                     " or none expected"));
    }
    return width;
  };
  absl::StatusOr<std::size_t> phase_width =
      rows(request.phases_rad_size(), phase_count, "phases_rad");
  if (!phase_width.ok()) return phase_width.status();
  absl::StatusOr<std::size_t> input_width =
      rows(request.amplitudes_size(), input_count, "amplitudes");
  if (!input_width.ok()) return input_width.status();
  std::vector<QueryConfig> configs(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    if (*phase_width > 0)
      configs[i].phases_rad = AsSpan(request.phases_rad()).subspan(i * *phase_width, *phase_width);
    if (*input_width > 0)
      configs[i].amplitudes = AsSpan(request.amplitudes()).subspan(i * *input_width, *input_width);
    configs[i].averages = request.averages();
  }
  return configs;
}

// One reactor per Query stream, pipelined: it reads ahead while
// configurations run, runs every message read so far in one task on the
// hardware thread, and writes the readings in order while the next task
// runs. The first bad message fails the stream once every earlier message
// has been answered; nothing of it or after it runs.
class QueryReactor final : public grpc::ServerBidiReactor<QueryRequest, QueryResponse> {
 public:
  // may_write: the caller is an operator; lease: the lease id it sent.
  QueryReactor(ChipController& controller, const CallGuard& access, bool may_write,
               std::string lease, RpcObserver* observer)
      : controller_(controller),
        access_(access),
        may_write_(may_write),
        lease_(std::move(lease)),
        observer_(observer) {
    phc::base::MutexLock lock(&mu_);
    StartReadLocked();
  }

  void OnReadDone(bool ok) override {
    bool finish = false;
    {
      phc::base::MutexLock lock(&mu_);
      reading_ = false;
      if (!ok) {  // the client closed its side, or the call was cancelled
        read_closed_ = true;
      } else if (!failure_) {
        pending_.push_back(std::move(incoming_));
        if (pending_.size() < kReadAhead) StartReadLocked();
        RunPendingLocked();
      }
      finish = ClaimFinishLocked();
    }
    if (finish) End();
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      phc::base::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !failure_) {
        failure_ = grpc::Status(grpc::StatusCode::CANCELLED, "query stream closed while writing");
      }
      if (failure_ && !ok) outgoing_.clear();
      WriteNextLocked();
      finish = ClaimFinishLocked();
    }
    if (finish) End();
  }

  void OnDone() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);  // ended without End
    delete this;
  }

 private:
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reading_ || read_closed_ || failure_ || finishing_) return;
    reading_ = true;
    StartRead(&incoming_);
  }

  // Posts every message read so far as one task, unless one is running.
  void RunPendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (running_ || pending_.empty() || failure_) return;
    running_ = true;
    std::vector<QueryRequest> batch(std::make_move_iterator(pending_.begin()),
                                    std::make_move_iterator(pending_.end()));
    pending_.clear();
    StartReadLocked();  // read-ahead room again
    controller_.Post([this, batch = std::move(batch)] { Run(batch); });
  }

  // Hardware thread.
  void Run(const std::vector<QueryRequest>& batch) {
    std::vector<QueryResponse> answers;
    answers.reserve(batch.size());
    std::optional<grpc::Status> error;
    std::vector<DetectorReading> readings;
    for (const QueryRequest& request : batch) {
      absl::Status s = Admit(request);
      absl::StatusOr<std::vector<QueryConfig>> configs =
          s.ok() ? ConfigsOf(request, controller_.phase_count(), controller_.input_count())
                 : absl::StatusOr<std::vector<QueryConfig>>(s);
      readings.clear();
      if (configs.ok()) s = controller_.QuerySequence(*configs, readings);
      if (!configs.ok()) s = configs.status();
      if (!s.ok()) {
        error = ToGrpcStatus(s);
        break;
      }
      QueryResponse& answer = answers.emplace_back();
      answer.set_tag(request.tag());
      answer.set_count(static_cast<std::uint32_t>(readings.size()));
      for (const DetectorReading& reading : readings) {
        answer.mutable_photocurrent_ua()->Add(reading.photocurrent_ua.begin(),
                                              reading.photocurrent_ua.end());
        answer.mutable_optical_power_mw()->Add(reading.optical_power_mw.begin(),
                                               reading.optical_power_mw.end());
      }
    }
    bool finish = false;
    {
      phc::base::MutexLock lock(&mu_);
      running_ = false;
      for (QueryResponse& answer : answers) outgoing_.push_back(std::move(answer));
      if (error && !failure_) {
        failure_ = *std::move(error);
        pending_.clear();
      }
      WriteNextLocked();
      RunPendingLocked();
      finish = ClaimFinishLocked();
    }
    if (finish) End();
  }

  // Hardware thread: whether this message may write.
  absl::Status Admit(const QueryRequest& request) const {
    if (request.phases_rad_size() == 0 && request.amplitudes_size() == 0) {
      return absl::OkStatus();
    }
    if (!may_write_) {
      return absl::PermissionDeniedError("writing phases or inputs needs an operator token");
    }
    return MayClientWriteNow(access_, controller_, lease_);
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || outgoing_.empty()) return;
    current_ = std::move(outgoing_.front());
    outgoing_.pop_front();
    writing_ = true;
    // More answers queued: let gRPC coalesce them into fewer frames.
    grpc::WriteOptions options;
    if (!outgoing_.empty()) options.set_buffer_hint();
    StartWrite(&current_, options);
  }

  // True once, when the stream can end: everything answered (or a failure
  // with every earlier answer written) and nothing in flight but a read.
  bool ClaimFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finishing_ || running_ || writing_ || !outgoing_.empty()) return false;
    if (!failure_ && !(read_closed_ && pending_.empty())) return false;
    finishing_ = true;
    final_ = failure_ ? *failure_ : grpc::Status::OK;
    return true;
  }

  // Outside mu_: Finish may run OnDone (which deletes this) at once.
  // Recorded before Finish: a client that has its status sees the stream
  // counted (OnDone runs after the client may already have scraped).
  void End() {
    Record(final_.error_code());
    Finish(final_);
  }

  void Record(grpc::StatusCode code) {
    recorded_ = true;
    if (observer_ == nullptr) return;
    observer_->RpcFinished(
        kQueryMethod, code,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

  static constexpr std::size_t kReadAhead = 1024;  // messages read but not yet run

  ChipController& controller_;
  const CallGuard& access_;
  const bool may_write_;
  const std::string lease_;
  RpcObserver* const observer_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool recorded_ = false;  // End (one thread, once) or OnDone counted the stream
  grpc::Status final_;     // written once, by the thread that claims the finish

  phc::base::Mutex mu_;
  QueryRequest incoming_ ABSL_GUARDED_BY(mu_);
  QueryResponse current_ ABSL_GUARDED_BY(mu_);  // being written
  std::deque<QueryRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<QueryResponse> outgoing_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> failure_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

static void FillLimits(const HeaterLimits& heater, double modulator_max_v,
                       photonic::v1::Limits& limits) {
  limits.set_max_heater_voltage_v(heater.max_voltage_v);
  limits.set_max_heater_current_ma(heater.max_current_ma);
  limits.set_max_total_heater_power_mw(heater.max_total_power_mw);
  limits.set_max_modulator_voltage_v(modulator_max_v);
}

grpc::ServerUnaryReactor* ChipServiceImpl::GetChipInfo(grpc::CallbackServerContext* context,
                                                       const photonic::v1::GetChipInfoRequest*,
                                                       photonic::v1::ChipInfo* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  const auto& chip = controller_.chip();
  response->set_name(chip.name());
  response->set_backend(controller_.backend_name());
  for (const photonsim::CircuitLayout& circuit : controller_.layout().circuits) {
    photonic::v1::CircuitInfo* info = response->add_circuits();
    info->set_name(circuit.name);
    info->set_kind(photonsim::CircuitKindName(circuit));
    info->set_size(circuit.size);
    info->set_first_phase(circuit.first_phase);
    info->set_phase_count(circuit.phase_count);
    info->set_first_input(circuit.first_input);
    info->set_input_count(circuit.input_count);
    info->set_first_output(circuit.first_output);
    info->set_output_count(circuit.output_count);
  }
  response->set_phase_count(controller_.phase_count());
  response->set_input_count(controller_.input_count());
  response->set_output_count(controller_.output_count());
  response->set_phase_layout(
      "phases are numbered circuit by circuit. mesh: MZIs column by column, top to bottom; phase "
      "2m is MZI m's internal phase theta, 2m+1 its external phase phi. svd: V-dagger mesh, then "
      "one attenuator theta per mode, then U mesh. microring_bank: ring detunings row-major "
      "(rows x channels)");
  auto* reactor = context->DefaultReactor();
  // The power budget can change at run time: read it on the hardware thread.
  controller_.Post([this, reactor, response] {
    FillLimits(controller_.heater_limits(), controller_.chip().modulator().max_voltage_v(),
               *response->mutable_limits());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ChipServiceImpl::SetPowerBudget(
    grpc::CallbackServerContext* context, const photonic::v1::SetPowerBudgetRequest* request,
    photonic::v1::Limits* response) {
  return PostUnaryWrite(
      context, access_, controller_, WriteScope::kLimitsOnly,
      [this, request, response]() -> grpc::Status {
        if (absl::Status s = controller_.SetPowerBudget(request->max_total_heater_power_mw());
            !s.ok()) {
          spdlog::warn("SetPowerBudget refused: {}", s.ToString());
          return ToGrpcStatus(s);
        }
        FillLimits(controller_.heater_limits(), controller_.chip().modulator().max_voltage_v(),
                   *response);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* ChipServiceImpl::SetPhases(grpc::CallbackServerContext* context,
                                                     const photonic::v1::SetPhasesRequest* request,
                                                     photonic::v1::SetPhasesResponse* response) {
  return PostUnaryWrite(context, access_, controller_, WriteScope::kChipState,
                        [this, request, response]() -> grpc::Status {
                          absl::StatusOr<PhaseState> state = controller_.SetPhases(
                              AsSpan(request->phases_rad()), AsSpan(request->indices()));
                          if (!state.ok()) {
                            spdlog::warn("SetPhases refused: {}", state.status().ToString());
                            return ToGrpcStatus(state.status());
                          }
                          response->mutable_applied_phases_rad()->Assign(state->phases_rad.begin(),
                                                                         state->phases_rad.end());
                          FillPhases(*state, *response);
                          return grpc::Status::OK;
                        });
}

grpc::ServerUnaryReactor* ChipServiceImpl::GetPhases(grpc::CallbackServerContext* context,
                                                     const photonic::v1::GetPhasesRequest*,
                                                     photonic::v1::GetPhasesResponse* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    const PhaseState state = controller_.GetPhases();
    response->mutable_phases_rad()->Assign(state.phases_rad.begin(), state.phases_rad.end());
    FillPhases(state, *response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ChipServiceImpl::SetInputs(grpc::CallbackServerContext* context,
                                                     const photonic::v1::SetInputsRequest* request,
                                                     photonic::v1::SetInputsResponse* response) {
  return PostUnaryWrite(context, access_, controller_, WriteScope::kChipState,
                        [this, request, response]() -> grpc::Status {
                          absl::StatusOr<std::vector<double>> applied =
                              controller_.SetInputs(AsSpan(request->amplitudes()));
                          if (!applied.ok()) {
                            spdlog::warn("SetInputs refused: {}", applied.status().ToString());
                            return ToGrpcStatus(applied.status());
                          }
                          response->mutable_amplitudes()->Assign(applied->begin(), applied->end());
                          return grpc::Status::OK;
                        });
}

grpc::ServerUnaryReactor* ChipServiceImpl::ReadDetectors(
    grpc::CallbackServerContext* context, const photonic::v1::ReadDetectorsRequest* request,
    photonic::v1::ReadDetectorsResponse* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, request, response] {
    absl::StatusOr<DetectorReading> reading = controller_.ReadDetectors(request->averages());
    if (!reading.ok()) {
      reactor->Finish(ToGrpcStatus(reading.status()));
      return;
    }
    FillReading(*reading, *response);
    response->set_averages(static_cast<std::uint32_t>(reading->averages));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

namespace {

// The temperature now, into `response`.
absl::Status FillTemperature(ChipController& controller, photonic::v1::Temperature& response) {
  absl::StatusOr<TemperatureReading> reading = controller.ReadTemperature();
  if (!reading.ok()) return reading.status();
  response.set_temperature_c(reading->temperature_c);
  response.set_setpoint_c(reading->setpoint_c);
  response.set_min_setpoint_c(reading->min_setpoint_c);
  response.set_max_setpoint_c(reading->max_setpoint_c);
  response.set_stability_k(controller.chip().tec().stability_k());
  response.set_drifting(reading->drifting);
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ChipServiceImpl::GetTemperature(
    grpc::CallbackServerContext* context, const photonic::v1::GetTemperatureRequest*,
    photonic::v1::Temperature* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  controller_.Post([this, reactor, response] {
    reactor->Finish(ToGrpcStatus(FillTemperature(controller_, *response)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ChipServiceImpl::SetTemperatureSetpoint(
    grpc::CallbackServerContext* context,
    const photonic::v1::SetTemperatureSetpointRequest* request,
    photonic::v1::Temperature* response) {
  return PostUnaryWrite(
      context, access_, controller_, WriteScope::kChipState,
      [this, request, response]() -> grpc::Status {
        if (absl::Status s = controller_.SetTemperatureSetpoint(request->setpoint_c()); !s.ok()) {
          spdlog::warn("SetTemperatureSetpoint refused: {}", s.ToString());
          return ToGrpcStatus(s);
        }
        return ToGrpcStatus(FillTemperature(controller_, *response));
      });
}

grpc::ServerBidiReactor<QueryRequest, QueryResponse>* ChipServiceImpl::Query(
    grpc::CallbackServerContext* context) {
  // Opening a stream is a read; each configuration that writes is checked
  // for the operator role and the lease when it runs.
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) {
    if (query_observer_ != nullptr) {
      query_observer_->RpcFinished(kQueryMethod, denied.error_code(), 0.0);
    }
    return new BidiRefusal<QueryRequest, QueryResponse>(denied);
  }
  return new QueryReactor(controller_, access_, access_.Operate(*context).ok(),
                          CallGuard::LeaseOf(*context), query_observer_);
}

namespace {

void FillLease(const LeaseInfo& info, photonic::v1::Lease& lease) {
  lease.set_held(info.held);
  lease.set_lease_id(info.lease_id);
  lease.set_holder(info.holder);
  lease.set_expires_in_seconds(info.expires_in_seconds);
}

}  // namespace

grpc::ServerUnaryReactor* ChipServiceImpl::AcquireLease(
    grpc::CallbackServerContext* context, const photonic::v1::AcquireLeaseRequest* request,
    photonic::v1::Lease* response) {
  if (grpc::Status denied = access_.Operate(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = context->DefaultReactor();
  // On the hardware thread: a training session holding the chip comes first.
  controller_.Post([this, reactor, request, response] {
    if (absl::Status s = controller_.CheckClientMayWrite(); !s.ok()) {
      reactor->Finish(ToGrpcStatus(s));
      return;
    }
    absl::StatusOr<LeaseInfo> lease =
        leases_.Acquire(request->holder(), request->ttl_seconds(), request->lease_id());
    if (!lease.ok()) {
      reactor->Finish(ToGrpcStatus(lease.status()));
      return;
    }
    spdlog::info("write lease {} to {} for {} s",
                 request->lease_id().empty() ? "granted" : "renewed", lease->holder,
                 lease->expires_in_seconds);
    FillLease(*lease, *response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ChipServiceImpl::ReleaseLease(
    grpc::CallbackServerContext* context, const photonic::v1::ReleaseLeaseRequest* request,
    photonic::v1::Lease* response) {
  if (grpc::Status denied = access_.Operate(*context); !denied.ok()) {
    return Refuse(context, denied);
  }
  absl::StatusOr<LeaseInfo> lease = leases_.Release(request->lease_id());
  if (!lease.ok()) return Refuse(context, ToGrpcStatus(lease.status()));
  spdlog::info("write lease released");
  FillLease(*lease, *response);
  return Refuse(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ChipServiceImpl::GetLease(grpc::CallbackServerContext* context,
                                                    const photonic::v1::GetLeaseRequest*,
                                                    photonic::v1::Lease* response) {
  if (grpc::Status denied = access_.Read(*context); !denied.ok()) return Refuse(context, denied);
  FillLease(leases_.Current(), *response);
  return Refuse(context, grpc::Status::OK);
}

}  // namespace phc::daemon
