// What every service handler checks first: the caller's role (bearer
// token) and, for writes, the client write lease.
#pragma once

#include "daemon/access_control.h"
#include "daemon/lease_manager.h"
#include "daemon/status_convert.h"

namespace phc::daemon {

inline constexpr char kLeaseMetadataKey[] = "x-photonicd-lease";

class CallGuard {
 public:
  CallGuard(const AccessControl& access, const LeaseManager& leases)
      : access_(access), leases_(leases) {}

  // Reader calls: info, reads, status, watch.
  grpc::Status Read(const grpc::ServerContextBase& context) const {
    return access_.Check(context, Role::kReader);
  }
  // Operator calls that do not touch the hardware (the lease calls).
  grpc::Status Operate(const grpc::ServerContextBase& context) const {
    return access_.Check(context, Role::kOperator);
  }
  // Operator calls that write to the chip: also the holder of a live lease.
  grpc::Status Write(const grpc::ServerContextBase& context) const {
    if (grpc::Status s = Operate(context); !s.ok()) return s;
    const auto& metadata = context.client_metadata();
    const auto it = metadata.find(kLeaseMetadataKey);
    const std::string_view lease = it == metadata.end()
                                       ? std::string_view()
                                       : std::string_view(it->second.data(), it->second.size());
    return ToGrpcStatus(leases_.CheckWrite(lease));
  }

 private:
  const AccessControl& access_;
  const LeaseManager& leases_;
};

}  // namespace phc::daemon
