#include "daemon/metrics/rpc_metrics_interceptor.h"

#include <chrono>
#include <string>
#include <string_view>

namespace phc::daemon {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(DaemonMetrics& metrics, const char* method)
      : metrics_(metrics), method_(method != nullptr ? method : "unknown") {}

  // A call that ends without sending a status (the client went away) is
  // counted as CANCELLED.
  ~RpcMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    metrics_.RpcFinished(
        method_, code,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

  DaemonMetrics& metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool recorded_ = false;
};

}  // namespace

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  // Query streams report themselves (rpc_observer.h): none here.
  if (info->method() != nullptr && std::string_view(info->method()) == kQueryMethod) return nullptr;
  return new RpcMetricsInterceptor(metrics_, info->method());
}

}  // namespace phc::daemon
