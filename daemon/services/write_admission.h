// The last check before a client's write runs on the hardware thread.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/services/call_guard.h"
#include "daemon/services/service_refusal.h"
#include "daemon/status_convert.h"

namespace phc::daemon {

// What a write may touch: the chip's phases and inputs, which a training
// session or calibration holds while it runs, or only the limits (the power
// budget may be lowered while they run, not raised: ChipController checks).
enum class WriteScope { kChipState, kLimitsOnly };

// Hardware thread, as the write is about to run: the lease the caller sent is
// still the live one (another client may have taken the chip while the call
// waited), and for chip state, no session or calibration holds the chip.
inline absl::Status MayClientWriteNow(const CallGuard& access, const ChipController& controller,
                                      std::string_view lease,
                                      WriteScope scope = WriteScope::kChipState) {
  if (absl::Status s = access.CheckLease(lease); !s.ok()) return s;
  if (scope == WriteScope::kLimitsOnly) return absl::OkStatus();
  return controller.CheckClientMayWrite();
}

// For unary writes: true when the write may run now. Otherwise finishes the
// call with the reason (CANCELLED when the client gave up while the call
// waited: nothing is written) and returns false.
inline bool AdmitUnaryWrite(grpc::ServerUnaryReactor* reactor,
                            const grpc::CallbackServerContext& context, const CallGuard& access,
                            const ChipController& controller, std::string_view lease,
                            WriteScope scope = WriteScope::kChipState) {
  if (context.IsCancelled()) {
    reactor->Finish(grpc::Status::CANCELLED);
    return false;
  }
  if (absl::Status s = MayClientWriteNow(access, controller, lease, scope); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return false;
  }
  return true;
}

// A unary client write. Refused at once without an operator token and a live
// lease; otherwise `write` (returning the status to finish the call with)
// runs on the hardware thread once AdmitUnaryWrite lets it.
template <typename Write>
grpc::ServerUnaryReactor* PostUnaryWrite(grpc::CallbackServerContext* context,
                                         const CallGuard& access, ChipController& controller,
                                         WriteScope scope, Write write) {
  if (grpc::Status denied = access.Write(*context); !denied.ok()) return Refuse(context, denied);
  auto* reactor = context->DefaultReactor();
  controller.Post([context, reactor, &access, &controller, scope, write = std::move(write),
                   lease = CallGuard::LeaseOf(*context)] {
    if (!AdmitUnaryWrite(reactor, *context, access, controller, lease, scope)) return;
    reactor->Finish(write());
  });
  return reactor;
}

}  // namespace phc::daemon
