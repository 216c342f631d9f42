#include "daemon/web/web_handler.h"

#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/web/dashboard_assets.h"
#include "daemon/web/dashboard_json.h"
#include "photonic/v1/chip.pb.h"

namespace phc::daemon {
namespace {

namespace http = boost::beast::http;
using photonic::v1::SessionStatus;

http::status HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return http::status::bad_request;
    case absl::StatusCode::kUnauthenticated:
      return http::status::unauthorized;
    case absl::StatusCode::kPermissionDenied:
      return http::status::forbidden;
    case absl::StatusCode::kNotFound:
      return http::status::not_found;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return http::status::conflict;
    case absl::StatusCode::kUnavailable:
      return http::status::service_unavailable;
    default:
      return http::status::internal_server_error;
  }
}

HttpResponse JsonResponse(const HttpRequest& request, const google::protobuf::Message& message) {
  return MakeHttpResponse(request, http::status::ok, ToJson(message), "application/json");
}

// A JSON string literal of `text`.
std::string JsonQuoted(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

HttpResponse ErrorResponse(const HttpRequest& request, const absl::Status& status) {
  HttpResponse response =
      MakeHttpResponse(request, HttpStatusOf(status.code()),
                       absl::StrCat("{\"code\": \"", absl::StatusCodeToString(status.code()),
                                    "\", \"message\": ", JsonQuoted(status.message()), "}"),
                       "application/json");
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    response.set(http::field::www_authenticate, "Bearer");
  }
  return response;
}

std::string_view HeaderOf(const HttpRequest& request, http::field field) {
  const auto value = request[field];
  return {value.data(), value.size()};
}

std::string_view HeaderOf(const HttpRequest& request, std::string_view name) {
  const auto value = request[boost::beast::string_view(name.data(), name.size())];
  return {value.data(), value.size()};
}

class WebHandler : public std::enable_shared_from_this<WebHandler> {
 public:
  explicit WebHandler(WebContext context)
      : context_(context), chip_json_(ToJson(DashboardChipOf(context.controller))) {}

  void Handle(const HttpRequest& request, HttpExchange exchange) {
    // Every answer is counted by its status.
    HttpRespond respond = [&metrics = context_.metrics,
                           respond = std::move(exchange.respond)](HttpResponse response) {
      metrics.RecordHttp(response.result_int());
      respond(std::move(response));
    };
    std::string path(request.target().data(), request.target().size());
    path = path.substr(0, path.find('?'));
    const bool get = request.method() == http::verb::get;
    const bool post = request.method() == http::verb::post;
    if (path == "/") {
      if (!get) return respond(NotAllowed(request, "GET"));
      return respond(MakeHttpResponse(request, http::status::ok, std::string(kDashboardHtml),
                                      "text/html; charset=utf-8"));
    }
    const bool metrics = path == "/metrics";
    if (!metrics && !path.starts_with("/api/")) {
      return respond(ErrorResponse(
          request, absl::NotFoundError(absl::StrCat(
                       "no such page: ", path, " (the dashboard is at /, metrics at /metrics)"))));
    }
    const std::vector<std::string> parts = absl::StrSplit(path.substr(1), '/');
    const bool write_route = path == "/api/power-budget" ||
                             (parts.size() == 4 && parts[1] == "sessions" && parts[3] != "events");
    if (write_route ? !post : !get) {
      return respond(NotAllowed(request, write_route ? "POST" : "GET"));
    }
    if (absl::Status allowed =
            context_.access.CheckToken(HeaderOf(request, http::field::authorization),
                                       write_route ? Role::kOperator : Role::kReader);
        !allowed.ok()) {
      return respond(ErrorResponse(request, allowed));
    }
    if (metrics) return Metrics(request, exchange.executor, std::move(respond));
    if (path == "/api/chip") {
      return respond(MakeHttpResponse(request, http::status::ok, chip_json_, "application/json"));
    }
    if (path == "/api/state") return State(request, exchange.executor, std::move(respond));
    if (path == "/api/power-budget") return PowerBudget(request, std::move(respond));
    if (parts.size() == 4 && parts[1] == "sessions") {
      const std::string& id = parts[2];
      if (parts[3] == "events") return Events(request, id, std::move(exchange), std::move(respond));
      if (parts[3] == "pause" || parts[3] == "resume" || parts[3] == "cancel") {
        return SessionAction(request, id, parts[3], std::move(respond));
      }
    }
    respond(ErrorResponse(request, absl::NotFoundError(absl::StrCat("no such API: ", path))));
  }

 private:
  static HttpResponse NotAllowed(const HttpRequest& request, const char* allowed) {
    HttpResponse response = ErrorResponse(
        request, absl::InvalidArgumentError(absl::StrCat("this path answers ", allowed, " only")));
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, allowed);
    return response;
  }

  void Metrics(const HttpRequest& request, const boost::asio::any_io_executor& executor,
               HttpRespond respond) {
    context_.snapshots.Get(
        executor, [self = shared_from_this(), request,
                   respond = std::move(respond)](std::shared_ptr<const ChipSnapshot> snapshot) {
          respond(MakeHttpResponse(
              request, http::status::ok,
              self->context_.metrics.Render(snapshot.get(), self->context_.controller),
              "text/plain; version=0.0.4; charset=utf-8"));
        });
  }

  void State(const HttpRequest& request, const boost::asio::any_io_executor& executor,
             HttpRespond respond) {
    context_.snapshots.Get(executor, [self = shared_from_this(), request,
                                      respond = std::move(respond)](
                                         std::shared_ptr<const ChipSnapshot> snapshot) {
      respond(JsonResponse(request, DashboardStateOf(snapshot.get(), self->context_.controller)));
    });
  }

  // The session's present status, then every update, as Server-Sent Events.
  void Events(const HttpRequest& request, const std::string& id, HttpExchange exchange,
              HttpRespond respond) {
    auto start =
        std::make_shared<decltype(exchange.start_stream)>(std::move(exchange.start_stream));
    auto stream = std::make_shared<std::shared_ptr<HttpStream>>();
    auto& metrics = context_.metrics;
    const absl::Status watched = context_.sessions.Watch(
        id, [start, stream, &metrics](const SessionStatus& status, bool last) {
          if (*stream == nullptr) {  // the first call, from Watch itself
            HttpResponse head(http::status::ok, 11);
            head.set(http::field::content_type, "text/event-stream");
            metrics.RecordHttp(200);
            *stream = (*start)(std::move(head));
          }
          bool open =
              (*stream)->Send(absl::StrCat("event: status\ndata: ", ToJson(status), "\n\n"));
          if (last) {
            (*stream)->Send("event: end\ndata: {}\n\n");
            (*stream)->Close();
            return false;
          }
          return open;
        });
    if (!watched.ok()) respond(ErrorResponse(request, watched));
  }

  void SessionAction(const HttpRequest& request, const std::string& id, const std::string& action,
                     HttpRespond respond) {
    context_.controller.Post([self = shared_from_this(), request, id, action,
                              lease = std::string(HeaderOf(request, kLeaseMetadataKey)),
                              respond = std::move(respond)] {
      WebContext& c = self->context_;
      if (absl::Status s = c.guard.CheckLease(lease); !s.ok()) {
        return respond(ErrorResponse(request, s));
      }
      absl::StatusOr<SessionStatus> status = action == "pause"    ? c.sessions.Pause(id)
                                             : action == "resume" ? c.sessions.Resume(id)
                                                                  : c.sessions.Cancel(id);
      respond(status.ok() ? JsonResponse(request, *status)
                          : ErrorResponse(request, status.status()));
    });
  }

  void PowerBudget(const HttpRequest& request, HttpRespond respond) {
    photonic::v1::SetPowerBudgetRequest budget;
    if (const auto parsed = google::protobuf::util::JsonStringToMessage(request.body(), &budget);
        !parsed.ok()) {
      return respond(ErrorResponse(
          request, absl::InvalidArgumentError(absl::StrCat(
                       "the body must be JSON like {\"maxTotalHeaterPowerMw\": 1200}: ",
                       std::string(parsed.message())))));
    }
    context_.controller.Post([self = shared_from_this(), request, budget,
                              lease = std::string(HeaderOf(request, kLeaseMetadataKey)),
                              respond = std::move(respond)] {
      WebContext& c = self->context_;
      if (absl::Status s = c.guard.CheckLease(lease); !s.ok()) {
        return respond(ErrorResponse(request, s));
      }
      if (absl::Status s = c.controller.SetPowerBudget(budget.max_total_heater_power_mw());
          !s.ok()) {
        return respond(ErrorResponse(request, s));
      }
      photonic::v1::Limits limits;
      const HeaterLimits& heater = c.controller.heater_limits();
      limits.set_max_heater_voltage_v(heater.max_voltage_v);
      limits.set_max_heater_current_ma(heater.max_current_ma);
      limits.set_max_total_heater_power_mw(heater.max_total_power_mw);
      limits.set_max_modulator_voltage_v(c.controller.chip().modulator().max_voltage_v());
      respond(JsonResponse(request, limits));
    });
  }

  WebContext context_;
  const std::string chip_json_;
};

}  // namespace

HttpHandler MakeWebHandler(WebContext context) {
  auto handler = std::make_shared<WebHandler>(context);
  return [handler](const HttpRequest& request, HttpExchange exchange) {
    handler->Handle(request, std::move(exchange));
  };
}

}  // namespace phc::daemon
