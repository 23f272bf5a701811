// CpprestTransport against a scripted socket peer: what goes out and comes back must be
// byte-exact, and every way of not reaching a server must be a Status, never a throw.
#include "fieldbook/sync/cpprest_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "support/server_process.h"

using namespace fieldbook;
using namespace std::chrono_literals;

namespace {

// A loopback listener that answers one connection with a canned reply and hands back
// the raw request it read.
class OneShotPeer {
 public:
  explicit OneShotPeer(std::string reply) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd_, 4) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    request_ = std::async(std::launch::async, [this, reply = std::move(reply)] { return Serve(reply); });
  }
  ~OneShotPeer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Request() { return request_.wait_for(10s) == std::future_status::ready ? request_.get() : ""; }

 private:
  std::string Serve(const std::string& reply) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return "";
    const int conn = accept(fd_, nullptr, nullptr);
    if (conn < 0) return "";
    std::string got;
    char buf[4096];
    // Read the head, then as many body bytes as Content-Length says.
    size_t want = std::string::npos;
    while (want == std::string::npos || got.size() < want) {
      pollfd c{conn, POLLIN, 0};
      if (poll(&c, 1, 10000) != 1) break;
      const ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      const size_t head_end = got.find("\r\n\r\n");
      if (want == std::string::npos && head_end != std::string::npos) {
        std::string head = got.substr(0, head_end);
        for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const size_t cl = head.find("content-length:");
        want = head_end + 4 + (cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15)));
      }
    }
    send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
    shutdown(conn, SHUT_WR);
    close(conn);
    return got;
  }

  int fd_ = -1;
  int port_ = 0;
  std::future<std::string> request_;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("cpprest transport sends headers and body bytes as given and returns the raw reply", "[transport]") {
  const std::string reply_body("\x1f\x8b\x08\x00\xff\x00 binary \r\n\x01", 17);
  OneShotPeer peer("HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                   "Content-Length: " + std::to_string(reply_body.size()) + "\r\nConnection: close\r\n\r\n" +
                   reply_body);
  auto transport = sync::MakeCpprestTransport(peer.url());
  REQUIRE(transport.ok());
  sync::HttpRequest request;
  request.path = "/v1/sync";
  request.headers = {{"Content-Type", "application/json"},
                     {"Content-Encoding", "gzip"},
                     {"Accept-Encoding", "gzip"},
                     {"Authorization", "Bearer fb1.abc.def"}};
  static const char kBody[] = "\x1f\x8b\0\xff body with a NUL\0 and \r\n\r\n inside";
  request.body = std::string(kBody, sizeof kBody - 1);
  auto r = (*transport)->Send(request);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->status == 409);
  CHECK(r->body == reply_body);  // not decompressed, not re-encoded

  const std::string sent = peer.Request();
  const size_t head_end = sent.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  // Header lines as "name:value", lower-case (optional whitespace after the colon dropped).
  std::string head = Lower(sent.substr(0, head_end));
  for (size_t at = head.find(": "); at != std::string::npos; at = head.find(": ", at)) head.erase(at + 1, 1);
  INFO(head);
  CHECK(head.rfind("post /v1/sync http/1.1", 0) == 0);
  CHECK(Count(head, "content-type:application/json") == 1);
  CHECK(Count(head, "content-type:") == 1);
  CHECK(Count(head, "content-encoding:gzip") == 1);
  CHECK(Count(head, "accept-encoding:gzip") == 1);
  CHECK(Count(head, "authorization:bearer fb1.abc.def") == 1);
  CHECK(Count(head, "content-length:" + std::to_string(request.body.size())) == 1);
  CHECK(sent.substr(head_end + 4) == request.body);
}

TEST_CASE("cpprest transport reports bad URLs up front", "[transport]") {
  for (const std::string url : {"", "not a url", "ftp://127.0.0.1:21", "127.0.0.1:8080"}) {
    INFO(url);
    auto t = sync::MakeCpprestTransport(url);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == ErrorCode::kInvalidArgument);
    sync::CpprestTransport direct(url);
    auto r = direct.Send(sync::HttpRequest{});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  }
  sync::CpprestTransportOptions options;
  options.ca_file = "/no/such/ca.pem";
  auto t = sync::MakeCpprestTransport("https://127.0.0.1:1", options);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().field() == "ca_file");
}

TEST_CASE("cpprest transport turns every failure to reach a server into a Status", "[transport]") {
  sync::HttpRequest get;
  get.method = "GET";
  get.path = "/healthz";
  sync::CpprestTransportOptions quick;
  quick.timeout = 3s;

  SECTION("connection refused") {
    const int port = testing::UnusedPort();
    REQUIRE(port > 0);
    auto r = sync::CpprestTransport("http://127.0.0.1:" + std::to_string(port), quick).Send(get);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kUnreachable);
  }
  SECTION("a host name that does not resolve") {
    auto r = sync::CpprestTransport("http://no-such-host.invalid:8080", quick).Send(get);
    REQUIRE_FALSE(r.ok());
    CHECK((r.status().code() == ErrorCode::kUnreachable || r.status().code() == ErrorCode::kTimeout));
  }
  SECTION("a peer that accepts and never answers") {
    // The kernel completes the handshake for a listening socket nobody accepts from.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd, 8) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    sync::CpprestTransportOptions options;
    options.timeout = 700ms;
    const auto start = std::chrono::steady_clock::now();
    auto r = sync::CpprestTransport("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), options).Send(get);
    const auto took = std::chrono::steady_clock::now() - start;
    close(fd);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kTimeout);
    CHECK(took < 10s);
  }
  SECTION("a peer that hangs up without answering") {
    OneShotPeer peer("");
    auto r = sync::CpprestTransport(peer.url(), quick).Send(get);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kUnreachable);
  }
}

TEST_CASE("cpprest transport carries a started exchange while the caller works; an abandoned one ends quietly",
          "[transport]") {
  sync::HttpRequest request;
  request.path = "/v1/sync";
  request.body = R"({"request":1})";

  SECTION("the request is out before Wait, and Wait gives the reply") {
    OneShotPeer peer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    auto transport = sync::MakeCpprestTransport(peer.url());
    REQUIRE(transport.ok());
    auto exchange = (*transport)->Start(request);
    // The peer reads the whole request and answers though nobody waits yet.
    const std::string sent = peer.Request();
    CHECK(sent.size() > request.body.size());
    CHECK(sent.substr(sent.size() - request.body.size()) == request.body);
    auto r = exchange->Wait();
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == "ok");
    auto twice = exchange->Wait();
    CHECK_FALSE(twice.ok());
  }
  SECTION("dropped unanswered, failing later, the transport gone first: no exception escapes") {
    const int port = testing::UnusedPort();
    REQUIRE(port > 0);
    for (int i = 0; i < 5; ++i) {
      auto transport = sync::MakeCpprestTransport("http://127.0.0.1:" + std::to_string(port));
      REQUIRE(transport.ok());
      auto exchange = (*transport)->Start(request);
      exchange.reset();
      transport->reset();
    }
    std::this_thread::sleep_for(300ms);  // the refusals arrive on cpprest's threads
    // And a dropped exchange to a live peer still goes out whole.
    OneShotPeer peer("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    auto transport = sync::MakeCpprestTransport(peer.url());
    REQUIRE(transport.ok());
    (*transport)->Start(request).reset();
    const std::string sent = peer.Request();
    CHECK(sent.substr(sent.size() - request.body.size()) == request.body);
  }
  SECTION("a bad path is refused by Wait, not thrown by Start") {
    OneShotPeer peer("");
    auto transport = sync::MakeCpprestTransport(peer.url());
    REQUIRE(transport.ok());
    request.path = "/v1/sync?x=%zz bad path";
    auto exchange = (*transport)->Start(request);
    auto r = exchange->Wait();
    CHECK_FALSE(r.ok());
  }
}
