#include "daemon/services/chip_service.h"

#include <chrono>
#include <utility>

#include "daemon/services/service_refusal.h"
#include "daemon/services/write_admission.h"
#include "daemon/status_convert.h"
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

// One reactor per Query stream: read a configuration, run it on the
// hardware thread, write the reading, read the next.
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
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the call was cancelled
      End(grpc::Status::OK);
      return;
    }
    controller_.Post([this] {
      if (request_.phases_rad_size() > 0 || request_.amplitudes_size() > 0) {
        if (!may_write_) {
          End(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           "writing phases or inputs needs an operator token"));
          return;
        }
        if (absl::Status s = MayClientWriteNow(access_, controller_, lease_); !s.ok()) {
          End(ToGrpcStatus(s));
          return;
        }
      }
      absl::StatusOr<DetectorReading> reading =
          controller_.Query({.phases_rad = AsSpan(request_.phases_rad()),
                             .amplitudes = AsSpan(request_.amplitudes()),
                             .averages = request_.averages()});
      if (!reading.ok()) {
        End(ToGrpcStatus(reading.status()));
        return;
      }
      response_.Clear();
      response_.set_tag(request_.tag());
      FillReading(*reading, response_);
      StartWrite(&response_);
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "query stream closed while writing"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override {
    if (observer_ != nullptr) {
      observer_->RpcFinished(
          kQueryMethod, code_,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    delete this;
  }

 private:
  // Finish, remembering the code for OnDone's report.
  void End(grpc::Status status) {
    code_ = status.error_code();
    Finish(std::move(status));
  }

  ChipController& controller_;
  const CallGuard& access_;
  const bool may_write_;
  const std::string lease_;
  RpcObserver* const observer_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;  // until End says otherwise
  QueryRequest request_;
  QueryResponse response_;
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
