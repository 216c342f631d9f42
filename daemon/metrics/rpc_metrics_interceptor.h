// A gRPC server interceptor that reports every finished call to
// DaemonMetrics: method, status code, duration. One per call, except Query
// streams, which report themselves (daemon/services/rpc_observer.h).
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include "daemon/metrics/daemon_metrics.h"

namespace phc::daemon {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(DaemonMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  DaemonMetrics& metrics_;
};

}  // namespace phc::daemon
