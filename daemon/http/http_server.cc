#include "daemon/http/http_server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <deque>
#include <list>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "phc/base/mutex.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

HttpResponse MakeHttpResponse(const HttpRequest& request, http::status status, std::string body,
                              std::string content_type) {
  HttpResponse response(status, request.version());
  response.set(http::field::server, "photonicd");
  response.set(http::field::content_type, content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

namespace {

// What the server needs from a connection, whatever its stream.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Close() = 0;  // server thread
};

}  // namespace

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  HttpServerOptions options;
  HttpHandler handler;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::optional<asio::ssl::context> tls;
  std::string address;
  std::atomic<std::size_t> open{0};
  std::list<std::weak_ptr<Connection>> connections;  // server thread only
  std::thread thread;
  bool stopped = false;

  void Accept();
};

namespace {

// The status line and headers of a streamed response.
std::string StreamHead(HttpResponse head) {
  head.keep_alive(false);
  head.set(http::field::cache_control, "no-store");
  std::string text = absl::StrCat("HTTP/1.1 ", head.result_int(), " ",
                                  std::string(head.reason().data(), head.reason().size()), "\r\n");
  for (const auto& field : head) {
    absl::StrAppend(&text, std::string(field.name_string().data(), field.name_string().size()),
                    ": ", std::string(field.value().data(), field.value().size()), "\r\n");
  }
  return text + "\r\n";
}

template <typename Stream>
class StreamConnection final : public Connection,
                               public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  StreamConnection(std::shared_ptr<HttpServer::State> server, Stream stream)
      : server_(std::move(server)), stream_(std::move(stream)) {
    ++server_->open;
  }
  ~StreamConnection() override { --server_->open; }

  // reject: answer 503 and close (too many connections).
  void Start(bool reject) {
    if constexpr (kTls) {
      Lowest().expires_after(server_->options.io_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this(), reject](beast::error_code ec) {
                                if (ec) return self->Close();
                                self->AfterHandshake(reject);
                              });
    } else {
      AfterHandshake(reject);
    }
  }

  // Server thread.
  void Close() override {
    {
      phc::base::MutexLock lock(&mutex_);
      closed_ = true;
    }
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  // Any thread: queues bytes of a streamed response (close_after: then
  // closes). False when the connection is closed or the backlog too long.
  bool Enqueue(std::string bytes, bool close_after) {
    bool start_pump = false;
    {
      phc::base::MutexLock lock(&mutex_);
      if (closed_) return false;
      if (queued_bytes_ + bytes.size() > server_->options.max_stream_backlog_bytes) {
        closed_ = true;
        asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Close(); });
        return false;
      }
      queued_bytes_ += bytes.size();
      if (!bytes.empty()) queue_.push_back(std::move(bytes));
      close_after_ = close_after_ || close_after;
      if (!pumping_) start_pump = pumping_ = true;
    }
    if (start_pump) {
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Pump(); });
    }
    return true;
  }

 private:
  class ConnectionStream final : public HttpStream {
   public:
    explicit ConnectionStream(std::shared_ptr<StreamConnection> connection)
        : connection_(std::move(connection)) {}
    bool Send(std::string bytes) override { return connection_->Enqueue(std::move(bytes), false); }
    void Close() override { connection_->Enqueue(std::string(), true); }

   private:
    std::shared_ptr<StreamConnection> connection_;
  };

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void AfterHandshake(bool reject) {
    if (!reject) return Read();
    HttpRequest request;
    request.keep_alive(false);
    Write(MakeHttpResponse(request, http::status::service_unavailable,
                           "too many open connections\n"));
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(server_->options.max_header_bytes);
    parser_->body_limit(server_->options.max_body_bytes);
    Lowest().expires_after(server_->options.io_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    if (ec) {
      // The request is refused; the connection is not reused.
      HttpRequest request;
      request.keep_alive(false);
      http::status status = http::status::bad_request;
      std::string why = absl::StrCat("malformed request: ", ec.message(), "\n");
      if (ec == http::error::body_limit) {
        status = http::status::payload_too_large;
        why = absl::StrCat("request body over ", server_->options.max_body_bytes, " bytes\n");
      } else if (ec == http::error::header_limit) {
        status = http::status::request_header_fields_too_large;
        why = absl::StrCat("request headers over ", server_->options.max_header_bytes, " bytes\n");
      }
      return Write(MakeHttpResponse(request, status, std::move(why)));
    }
    HttpRequest request = parser_->release();
    Lowest().expires_never();  // the handler answers within its own bound
    asio::any_io_executor executor = stream_.get_executor();
    auto self = this->shared_from_this();
    server_->handler(
        request, HttpExchange{
                     .executor = executor,
                     .respond =
                         [self, executor](HttpResponse response) {
                           asio::post(executor, [self, response = std::move(response)]() mutable {
                             self->Write(std::move(response));
                           });
                         },
                     .start_stream = [self](HttpResponse head) -> std::shared_ptr<HttpStream> {
                       self->Enqueue(StreamHead(std::move(head)), false);
                       return std::make_shared<ConnectionStream>(self);
                     },
                 });
  }

  void Write(HttpResponse response) {
    response_ = std::move(response);
    Lowest().expires_after(server_->options.io_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->response_.keep_alive()) return self->Close();
                        self->Read();
                      });
  }

  // Server thread: writes the streamed bytes queued, one buffer at a time.
  void Pump() {
    bool close = false;
    {
      phc::base::MutexLock lock(&mutex_);
      if (queue_.empty()) {
        pumping_ = false;
        close = close_after_;
      } else {
        writing_ = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= writing_.size();
      }
    }
    if (close) return Close();
    if (writing_.empty()) return;
    Lowest().expires_after(server_->options.io_timeout);
    asio::async_write(stream_, asio::buffer(writing_),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_.clear();
                        if (ec) return self->Close();
                        self->Pump();
                      });
  }

  const std::shared_ptr<HttpServer::State> server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  std::string writing_;  // server thread

  phc::base::Mutex mutex_;
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mutex_);
  std::size_t queued_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  bool pumping_ ABSL_GUARDED_BY(mutex_) = false;
  bool close_after_ ABSL_GUARDED_BY(mutex_) = false;
};

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen address \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen address \"", address, "\": \"", host, "\" is not an IP address"));
  }
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

}  // namespace

void HttpServer::State::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      const bool reject = open.load() >= options.max_connections;
      connections.remove_if([](const std::weak_ptr<Connection>& c) { return c.expired(); });
      beast::tcp_stream stream(std::move(socket));
      if (tls) {
        auto connection = std::make_shared<StreamConnection<beast::ssl_stream<beast::tcp_stream>>>(
            shared_from_this(), beast::ssl_stream<beast::tcp_stream>(std::move(stream), *tls));
        connections.push_back(connection);
        connection->Start(reject);
      } else {
        auto connection = std::make_shared<StreamConnection<beast::tcp_stream>>(shared_from_this(),
                                                                                std::move(stream));
        connections.push_back(connection);
        connection->Start(reject);
      }
    } else {
      spdlog::warn("http: accept failed: {}", ec.message());
    }
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                              HttpHandler handler) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseEndpoint(options.listen_address);
  if (!endpoint.ok()) return endpoint.status();
  auto state = std::make_shared<State>();
  state->options = std::move(options);
  state->handler = std::move(handler);
  if (state->options.tls) {
    const TlsMaterial& tls = *state->options.tls;
    state->tls.emplace(asio::ssl::context::tls_server);
    state->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                            asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    state->tls->use_certificate_chain(asio::buffer(tls.certificate_pem), ec);
    if (!ec)
      state->tls->use_private_key(asio::buffer(tls.private_key_pem), asio::ssl::context::pem, ec);
    if (!ec && !tls.client_ca_pem.empty()) {
      state->tls->add_certificate_authority(asio::buffer(tls.client_ca_pem), ec);
      if (!ec) {
        state->tls->set_verify_mode(asio::ssl::verify_peer |
                                    (tls.require_client_certificate
                                         ? asio::ssl::verify_fail_if_no_peer_cert
                                         : asio::ssl::verify_none));
      }
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("http: the TLS certificate, key or client CA is unusable: ", ec.message()));
    }
  }
  beast::error_code ec;
  state->acceptor.open(endpoint->protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(*endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "http: cannot listen on \"", state->options.listen_address, "\": ", ec.message()));
  }
  const tcp::endpoint bound = state->acceptor.local_endpoint();
  state->address = bound.address().is_v6()
                       ? absl::StrCat("[", bound.address().to_string(), "]:", bound.port())
                       : absl::StrCat(bound.address().to_string(), ":", bound.port());
  state->Accept();
  State* raw = state.get();
  state->thread = std::thread([raw] {
    // A handler that throws (a bug) costs its connection, not the port.
    while (true) {
      try {
        raw->io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::critical("bug: http handler threw: {}", e.what());
      } catch (...) {
        spdlog::critical("bug: http handler threw");
      }
    }
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  asio::post(state_->io, [state = state_.get()] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    for (const std::weak_ptr<Connection>& weak : state->connections) {
      if (std::shared_ptr<Connection> connection = weak.lock()) connection->Close();
    }
    state->connections.clear();
  });
  // run() returns once no work is left: every connection closed, and every
  // pending handler answered (into a closed socket).
  state_->thread.join();
}

const std::string& HttpServer::address() const { return state_->address; }

std::size_t HttpServer::open_connections() const { return state_->open.load(); }

}  // namespace phc::daemon
