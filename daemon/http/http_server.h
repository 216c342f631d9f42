// HttpServer: a small asynchronous HTTP/1.1 server (Boost.Beast) on a
// thread of its own, for the metrics endpoint. It never runs on the
// hardware thread or gRPC's threads: a slow or hostile HTTP client can hold
// up neither.
//
// Every connection reads one request at a time with a deadline, hands it to
// the handler, and writes the response the handler gives back (from any
// thread, exactly once), or streams one (Server-Sent Events). Oversized requests get 413 or 431,
// malformed ones 400, and the connection is closed. Past max_connections a new connection gets 503
// and is closed. With TLS material the port speaks HTTPS only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/config.h"

namespace phc::daemon {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// Sends the response. Call exactly once, from any thread.
using HttpRespond = std::function<void(HttpResponse)>;

// A response sent as it is produced. Thread-safe.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Queues bytes for the client. False once the stream is closed: the
  // client went away, or fell more than max_stream_backlog_bytes behind
  // (a client that stops reading holds up nobody but itself).
  virtual bool Send(std::string bytes) = 0;
  // Ends the response after what is queued, and closes the connection.
  virtual void Close() = 0;
};

// What a handler answers with: exactly one of respond() or start_stream().
struct HttpExchange {
  // The server's: a handler that answers later (after a timer) must keep
  // work on it until it answers.
  boost::asio::any_io_executor executor;
  HttpRespond respond;
  // Sends head's status line and headers (its body is ignored; the
  // response has no length and ends when the connection closes), then
  // whatever the stream is given.
  std::function<std::shared_ptr<HttpStream>(HttpResponse head)> start_stream;
};

// Runs on the server's thread; must not block.
using HttpHandler = std::function<void(const HttpRequest& request, HttpExchange exchange)>;

struct HttpServerOptions {
  std::string listen_address;  // host:port; port 0 picks a free port
  std::optional<TlsMaterial> tls;
  std::size_t max_connections = 512;
  // Reading a request (or the TLS handshake) and writing a response must
  // each finish within this; an idle keep-alive connection is closed after it.
  std::chrono::milliseconds io_timeout{10000};
  std::uint32_t max_header_bytes = 8192;
  std::uint64_t max_body_bytes = 65536;
  std::size_t max_stream_backlog_bytes = 1 << 20;
};

// A response with `body`, the request's HTTP version and keep-alive choice.
HttpResponse MakeHttpResponse(const HttpRequest& request, boost::beast::http::status status,
                              std::string body,
                              std::string content_type = "text/plain; charset=utf-8");

class HttpServer {
 public:
  // Binds and starts serving. INVALID_ARGUMENT for a malformed address or
  // TLS material, UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the port and every connection, waits for handlers still pending
  // (a handler's own timers bound that), joins the thread. Idempotent.
  void Stop();

  // "host:port", the port resolved.
  const std::string& address() const;
  // Connections open now. Thread-safe.
  std::size_t open_connections() const;

  struct State;  // the implementation's; shared with open connections

 private:
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace phc::daemon
