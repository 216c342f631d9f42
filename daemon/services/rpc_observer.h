// Sees finished RPCs (the metrics' counters and latency histograms).
// Most calls are reported by a gRPC interceptor; a service whose stream is
// too hot for one (Query: an interceptor costs every message ~20 % of the
// stream's throughput, tests/bench/metrics_cost_bench) reports its own.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

namespace phc::daemon {

class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  // Thread-safe. method: "/photonic.v1.ChipService/Query".
  virtual void RpcFinished(const std::string& method, grpc::StatusCode code, double seconds) = 0;
};

inline constexpr char kQueryMethod[] = "/photonic.v1.ChipService/Query";

}  // namespace phc::daemon
