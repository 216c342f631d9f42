// What every service handler checks first: the caller's role (bearer
// token) and, for writes, the client write lease.
#pragma once

#include <string>
#include <string_view>

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
  // Checked again with CheckLease when the write runs on the hardware
  // thread: a lease may be granted while the call waits there.
  grpc::Status Write(const grpc::ServerContextBase& context) const {
    if (grpc::Status s = Operate(context); !s.ok()) return s;
    return ToGrpcStatus(leases_.CheckWrite(LeaseOf(context)));
  }
  // The lease id the caller sent (empty: none).
  static std::string LeaseOf(const grpc::ServerContextBase& context) {
    const auto& metadata = context.client_metadata();
    const auto it = metadata.find(kLeaseMetadataKey);
    return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
  }
  absl::Status CheckLease(std::string_view lease) const { return leases_.CheckWrite(lease); }

 private:
  const AccessControl& access_;
  const LeaseManager& leases_;
};

}  // namespace phc::daemon
