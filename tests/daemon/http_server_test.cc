// HttpServer against real sockets: routing to the handler, refusals of bad
// and oversized requests, and that slow clients and slow answers hold up
// nobody else.
#include "daemon/http/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/http_client.h"

namespace phc::daemon {
namespace {

namespace http = boost::beast::http;
using testing::HttpExchangeRaw;
using testing::HttpGet;
using tcp = boost::asio::ip::tcp;

// Answers GET /echo/... with the path; holds GET /held until Release().
class TestHandler {
 public:
  HttpHandler Handler() {
    return [this](const HttpRequest& request, HttpExchange exchange) {
      HttpRespond respond = std::move(exchange.respond);
      const std::string target(request.target());
      if (target == "/stream") {
        HttpResponse head(http::status::ok, 11);
        head.set(http::field::content_type, "text/event-stream");
        std::lock_guard lock(mutex_);
        streams_.push_back(exchange.start_stream(std::move(head)));
        held_cv_.notify_all();
        return;
      }
      if (target == "/held") {
        std::lock_guard lock(mutex_);
        held_.push_back({request, std::move(respond)});
        held_cv_.notify_all();
        return;
      }
      respond(MakeHttpResponse(request, http::status::ok, "you asked for " + target));
    };
  }
  void WaitForHeld(std::size_t count) {
    std::unique_lock lock(mutex_);
    held_cv_.wait(lock, [&] { return held_.size() >= count; });
  }
  std::shared_ptr<HttpStream> WaitForStream(std::size_t index) {
    std::unique_lock lock(mutex_);
    held_cv_.wait(lock, [&] { return streams_.size() > index; });
    return streams_[index];
  }
  // Answers the held requests from this (a foreign) thread.
  void Release() {
    std::lock_guard lock(mutex_);
    for (auto& [request, respond] : held_)
      respond(MakeHttpResponse(request, http::status::ok, "late"));
    held_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable held_cv_;
  std::vector<std::pair<HttpRequest, HttpRespond>> held_;
  std::vector<std::shared_ptr<HttpStream>> streams_;
};

// A connected raw socket on its own io_context.
struct RawClient {
  boost::asio::io_context io;
  tcp::socket socket{io};
  explicit RawClient(const std::string& address) {
    const auto [host, port] = testing::SplitHostPort(address);
    boost::asio::connect(socket, tcp::resolver(io).resolve(host, port));
  }
  // Everything the server sends until it closes the connection.
  std::string ReadToClose() {
    std::string received;
    boost::system::error_code ec;
    boost::asio::read(socket, boost::asio::dynamic_buffer(received), ec);
    return received;
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.listen_address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        HttpServer::Start(std::move(options), handler_.Handler());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void WaitForOpenConnections(std::size_t count) {
    while (server_->open_connections() < count) std::this_thread::yield();
  }

  TestHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, HandsRequestsToTheHandlerAndKeepsConnectionsAlive) {
  Start();
  const testing::HttpResult result = HttpGet(server_->address(), "/echo/a?b=c");
  EXPECT_EQ(result.status, 200) << result.error;
  EXPECT_EQ(result.body, "you asked for /echo/a?b=c");
  // Two requests on one keep-alive connection.
  const testing::HttpResult second =
      HttpExchangeRaw(server_->address(),
                      "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: "
                      "x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, "you asked for /one");
}

TEST_F(HttpServerTest, RefusesMalformedAndOversizedRequests) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  options.max_body_bytes = 100;
  Start(options);
  EXPECT_EQ(HttpExchangeRaw(server_->address(), "NOT HTTP AT ALL\r\n\r\n").status, 400);
  EXPECT_EQ(HttpExchangeRaw(server_->address(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                                    std::string(2000, 'a') + "\r\n\r\n")
                .status,
            431);
  EXPECT_EQ(HttpExchangeRaw(
                server_->address(),
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b'))
                .status,
            413);
  // Still serving.
  EXPECT_EQ(HttpGet(server_->address(), "/echo/after").status, 200);
}

TEST_F(HttpServerTest, ASlowClientAndAHeldAnswerHoldUpNobody) {
  Start();
  // A client that sends half a request and then nothing.
  RawClient slow(server_->address());
  boost::asio::write(slow.socket, boost::asio::buffer(std::string("GET /echo HTTP/1.1\r\nHo")));
  // A request whose answer the handler holds back.
  auto held = std::async(std::launch::async, [&] { return HttpGet(server_->address(), "/held"); });
  handler_.WaitForHeld(1);

  // 200 concurrent clients are all answered meanwhile.
  std::vector<std::future<testing::HttpResult>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      return HttpGet(server_->address(), "/echo/" + std::to_string(i));
    }));
  }
  for (int i = 0; i < 200; ++i) {
    const testing::HttpResult result = clients[i].get();
    EXPECT_EQ(result.status, 200) << i << ": " << result.error;
    EXPECT_EQ(result.body, "you asked for /echo/" + std::to_string(i));
  }
  handler_.Release();
  const testing::HttpResult late = held.get();
  EXPECT_EQ(late.status, 200);
  EXPECT_EQ(late.body, "late");
}

TEST_F(HttpServerTest, StreamsSendWhatTheyAreGivenThenClose) {
  Start();
  RawClient client(server_->address());
  boost::asio::write(client.socket,
                     boost::asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::shared_ptr<HttpStream> stream = handler_.WaitForStream(0);
  // From a foreign thread, as a session's watcher sends.
  std::thread([stream] {
    EXPECT_TRUE(stream->Send("event: a\ndata: 1\n\n"));
    EXPECT_TRUE(stream->Send("event: b\ndata: 2\n\n"));
    stream->Close();
  }).join();
  const std::string received = client.ReadToClose();
  EXPECT_TRUE(received.starts_with("HTTP/1.1 200 OK\r\n")) << received;
  EXPECT_NE(received.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(received.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(received.ends_with("\r\n\r\nevent: a\ndata: 1\n\nevent: b\ndata: 2\n\n")) << received;
  EXPECT_FALSE(stream->Send("late"));  // closed
}

TEST_F(HttpServerTest, AStreamClientThatStopsReadingIsDroppedAlone) {
  HttpServerOptions options;
  options.max_stream_backlog_bytes = 64 << 10;
  Start(options);
  RawClient stalled(server_->address());
  boost::asio::write(stalled.socket,
                     boost::asio::buffer(std::string("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::shared_ptr<HttpStream> stream = handler_.WaitForStream(0);
  // The client reads nothing: once the socket buffers are full, the backlog
  // grows past its limit and the stream is closed.
  const std::string chunk(16 << 10, 'x');
  int sent = 0;
  while (stream->Send(chunk) && sent < 1'000'000) ++sent;
  EXPECT_LT(sent, 1'000'000) << "never dropped";
  EXPECT_FALSE(stream->Send(chunk));
  // Others are still served.
  EXPECT_EQ(HttpGet(server_->address(), "/echo/after").status, 200);
}

TEST_F(HttpServerTest, IdleConnectionsAreClosedAfterTheTimeout) {
  HttpServerOptions options;
  options.io_timeout = std::chrono::milliseconds(50);
  Start(options);
  RawClient idle(server_->address());
  // The server closes it: the read ends without a response.
  EXPECT_EQ(idle.ReadToClose(), "");
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(options);
  RawClient first(server_->address());
  RawClient second(server_->address());
  WaitForOpenConnections(2);
  const testing::HttpResult third = HttpGet(server_->address(), "/echo");
  EXPECT_EQ(third.status, 503) << third.error;
}

TEST_F(HttpServerTest, RefusesBadAddresses) {
  for (const std::string address : {"127.0.0.1", "127.0.0.1:99999", "no-such-host:80", ":"}) {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
        HttpServerOptions{.listen_address = address, .tls = std::nullopt}, handler_.Handler());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << address;
  }
}

TEST_F(HttpServerTest, StopClosesOpenConnections) {
  Start();
  RawClient open(server_->address());
  WaitForOpenConnections(1);
  server_->Stop();
  EXPECT_EQ(open.ReadToClose(), "");
  EXPECT_EQ(server_->open_connections(), 0u);
}

}  // namespace
}  // namespace phc::daemon
