#include "daemon/metrics/metrics_endpoint.h"

#include <string>
#include <string_view>
#include <utility>

namespace phc::daemon {

namespace http = boost::beast::http;

HttpHandler MakeMetricsHandler(DaemonMetrics& metrics, SnapshotCache& snapshots,
                               const ChipController& controller, const AccessControl& access) {
  return [&metrics, &snapshots, &controller, &access](const HttpRequest& request,
                                                      boost::asio::any_io_executor executor,
                                                      HttpRespond respond) {
    HttpRespond counted = [&metrics, respond = std::move(respond)](HttpResponse response) {
      metrics.RecordHttp(response.result_int());
      respond(std::move(response));
    };
    std::string_view path(request.target().data(), request.target().size());
    path = path.substr(0, path.find('?'));
    if (path != "/metrics" && path != "/") {
      return counted(MakeHttpResponse(request, http::status::not_found,
                                      "not found: photonicd serves /metrics\n"));
    }
    if (request.method() != http::verb::get) {
      HttpResponse response =
          MakeHttpResponse(request, http::status::method_not_allowed, "only GET is served here\n");
      response.set(http::field::allow, "GET");
      return counted(std::move(response));
    }
    if (path == "/") {
      return counted(
          MakeHttpResponse(request, http::status::ok,
                           "<!doctype html><title>photonicd</title><p>photonicd: "
                           "<a href=\"/metrics\">/metrics</a> (Prometheus text format)\n",
                           "text/html; charset=utf-8"));
    }
    const auto authorization = request[http::field::authorization];
    if (absl::Status allowed = access.CheckToken(
            std::string_view(authorization.data(), authorization.size()), Role::kReader);
        !allowed.ok()) {
      HttpResponse response = MakeHttpResponse(request, http::status::unauthorized,
                                               std::string(allowed.message()) + "\n");
      response.set(http::field::www_authenticate, "Bearer");
      return counted(std::move(response));
    }
    snapshots.Get(executor, [&metrics, &controller, request, counted = std::move(counted)](
                                std::shared_ptr<const ChipSnapshot> snapshot) {
      counted(MakeHttpResponse(request, http::status::ok,
                               metrics.Render(snapshot.get(), controller),
                               "text/plain; version=0.0.4; charset=utf-8"));
    });
  };
}

}  // namespace phc::daemon
