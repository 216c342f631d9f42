// A blocking HTTP/1.1 client for tests (Boost.Beast): GET a path, or send
// raw bytes and read what comes back.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <utility>

namespace phc::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed, closed or timed out)
  std::string body;
  std::string content_type;
  std::string error;  // why status is 0
};

// "host:port" -> (host, port).
inline std::pair<std::string, std::string> SplitHostPort(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  return {address.substr(0, colon), address.substr(colon + 1)};
}

// Sends `raw` (a whole request, or garbage) and reads one response.
inline HttpResult HttpExchangeRaw(const std::string& address, const std::string& raw,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  namespace beast = boost::beast;
  namespace http = boost::beast::http;
  HttpResult result;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    const auto [host, port] = SplitHostPort(address);
    boost::asio::ip::tcp::resolver resolver(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host, port));
    stream.expires_after(timeout);
    boost::asio::write(stream, boost::asio::buffer(raw));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    stream.expires_after(timeout);
    http::read(stream, buffer, parser);
    result.status = parser.get().result_int();
    result.body = parser.get().body();
    result.content_type = std::string(parser.get()[http::field::content_type]);
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

// GET path; `authorization` empty: none sent.
inline HttpResult HttpGet(const std::string& address, const std::string& path,
                          const std::string& authorization = "",
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  request += "Connection: close\r\n\r\n";
  return HttpExchangeRaw(address, request, timeout);
}

}  // namespace phc::testing
