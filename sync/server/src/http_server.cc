// The Beast front end of fieldbook-server, shaped as Beast's http_server_async example.
//
// Objects and lifetimes:
//   Shared    config, the Api, the TLS context and the session registry; owned jointly by
//             the server and every session, so whichever dies last frees it.
//   Listener  accepts on its own strand; each connection gets a Session on a new strand.
//   Session   kept alive by the handlers it has pending (shared_from_this); it dies when
//             it stops starting operations.
//
// Session state machine (all transitions on the session's strand):
//   kHandshake --OnHandshake--> kIdle           (TLS only; plain sessions start kIdle)
//   kIdle      --OnReadHeader-> kReading        (a request header arrived)
//   kReading   --OnRead-------> kBusy           (Api::Handle runs, then the reply is written)
//   kBusy      --OnWrite------> kIdle | kClosing
//   any        --error/drain--> kClosing        (close, or answer-then-close for bad input)
// Drain() closes a session only in kIdle with nothing received; others finish their
// request and close after the reply (keep-alive is off while draining).
#include "fieldbook/server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fieldbook/core/json.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/server/log_redaction.h"
#include "fieldbook/sync/protocol.h"

namespace fieldbook::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr size_t kHeaderLimit = 16 * 1024;
// After answering a request we refuse (413, 400), how long we keep reading and discarding
// what the client still sends, so our close does not reset the connection before the
// client has read the answer.
constexpr auto kLingerTime = std::chrono::seconds(5);
constexpr auto kTlsShutdownTime = std::chrono::seconds(2);

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The route as logged: no query string, device ids replaced, unknown paths collapsed (a
// path is attacker-chosen text).
std::string RouteOf(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  static const char* const kFixed[] = {"/v1/sync", "/healthz", "/readyz", "/metrics", "/v1/admin/devices",
                                       "/v1/admin/reassign", "/v1/admin/tokens/revoke"};
  for (const char* fixed : kFixed) {
    if (path == fixed) return path;
  }
  const std::string devices = "/v1/admin/devices/";
  if (path.rfind(devices, 0) == 0) {
    const size_t slash = path.find('/', devices.size());
    if (slash != std::string::npos) {
      const std::string verb = path.substr(slash + 1);
      if (verb == "revoke" || verb == "restore" || verb == "resync") return devices + ":site/" + verb;
    }
  }
  return "other";
}

// The field an error body names, if it looks like a field path (ASCII identifier, dots,
// brackets): a column name is client-chosen text and anything else is not logged.
std::string LoggableField(const std::string& field) {
  if (field.empty() || field.size() > 64) return {};
  if (!std::isalpha(static_cast<unsigned char>(field[0])) && field[0] != '_') return {};
  for (char c : field) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '[' && c != ']') return {};
  }
  return RedactPersonalData(field);  // a column name may itself be a phone number
}

ApiReply ErrorReply(int http_status, ErrorCode code, std::string message) {
  ApiReply reply;
  reply.status = http_status;
  reply.body = sync::EncodeError(Status(code, std::move(message)), NowMs());
  return reply;
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Drain() = 0;
};

// State every session shares with the server (see the note at the top).
struct Shared {
  Shared(Api& a, HttpServerConfig c) : api(a), config(std::move(c)) {}

  Api& api;
  const HttpServerConfig config;
  std::optional<ssl::context> tls;  // set before the first accept, then only read

  std::mutex mu;
  std::condition_variable all_closed;
  bool draining = false;                                             // guarded by mu
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> live;  // guarded by mu
  std::atomic<bool> draining_flag{false};  // lock-free copy of `draining` for the hot path

  // Returns whether the server is already draining.
  bool Register(SessionBase* s, std::weak_ptr<SessionBase> weak) {
    std::lock_guard<std::mutex> lock(mu);
    live.emplace(s, std::move(weak));
    return draining;
  }
  void Unregister(SessionBase* s) {
    std::lock_guard<std::mutex> lock(mu);
    live.erase(s);
    if (live.empty()) all_closed.notify_all();
  }
  void Event(const std::string& event, const std::string& detail) {
    if (config.event_log) config.event_log(event, detail);
  }
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : shared_(std::move(shared)), stream_(MakeStream(std::move(socket), *shared_)) {}
  ~Session() override { shared_->Unregister(this); }

  void Run() { net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->OnRun(); }); }

  void Drain() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->OnDrain(); });
  }

 private:
  enum class Phase { kHandshake, kIdle, kReading, kBusy, kClosing };

  static Stream MakeStream(tcp::socket&& socket, Shared& shared) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  const HttpServerConfig& config() const { return shared_->config; }

  void OnRun() {
    draining_ = shared_->Register(this, this->weak_from_this());
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      Lowest().expires_after(config().read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
    } else {
      DoReadHeader();
    }
    // Accepted just before the listener closed: nothing read yet, so close it like any
    // idle keep-alive connection instead of waiting for its request.
    if (draining_) OnDrain();
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // not a TLS client, or it gave up: nothing to answer
    if (phase_ == Phase::kClosing) return;
    DoReadHeader();
  }

  void OnDrain() {
    draining_ = true;
    // Idle: waiting for a request of which nothing has arrived (nor sits in our buffer).
    if (phase_ == Phase::kIdle && !(parser_ && parser_->got_some()) && buffer_.size() == 0) {
      phase_ = Phase::kClosing;
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      Lowest().cancel();
    } else if (phase_ == Phase::kHandshake) {
      phase_ = Phase::kClosing;
      Lowest().cancel();
    }
  }

  void DoReadHeader() {
    phase_ = Phase::kIdle;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(config().body_limit);
    Lowest().expires_after(config().read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnReadHeader(ec); });
  }

  void OnReadHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    phase_ = Phase::kReading;
    received_ms_ = NowMs();
    const auto& header = parser_->get();
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      // The client waits for our go-ahead before sending the body (curl does this).
      continue_.emplace(http::status::continue_, header.version());
      Lowest().expires_after(config().read_timeout);
      http::async_write(stream_, *continue_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
        self->continue_.reset();
        if (ec) return;
        self->DoReadBody();
      });
      return;
    }
    DoReadBody();
  }

  // The body is read piece by piece with the timeout renewed for each piece: it measures
  // silence, not the whole transfer, so a large batch over a slow link gets through.
  void DoReadBody() {
    if (parser_->is_done()) return OnRead({});
    Lowest().expires_after(config().read_timeout);
    http::async_read_some(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->DoReadBody();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == http::error::short_read ||
        ec.category() != http::make_error_code(http::error::bad_target).category()) {
      return DoClose();  // the peer left, timed out or the read was cancelled
    }
    const unsigned version = parser_ && parser_->get().version() == 10 ? 10 : 11;
    if (ec == http::error::body_limit) {
      return Refuse(ErrorReply(413, ErrorCode::kPayloadTooLarge,
                               "request body exceeds " + std::to_string(config().body_limit) + " bytes"),
                    version);
    }
    if (ec == http::error::header_limit) {
      return Refuse(ErrorReply(431, ErrorCode::kMalformedRequest,
                               "request headers exceed " + std::to_string(kHeaderLimit) + " bytes"),
                    version);
    }
    Refuse(ErrorReply(400, ErrorCode::kMalformedRequest, "not a valid HTTP/1.1 request: " + ec.message()), version);
  }

  void OnRead(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    phase_ = Phase::kBusy;
    http::request<http::string_body> req = parser_->release();
    ApiRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      const auto raw = field.name_string();
      std::string name = Lower(std::string_view(raw.data(), raw.size()));
      auto [it, inserted] = request.headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    request.body = std::move(req.body());
    const auto start = std::chrono::steady_clock::now();
    ApiReply reply;
    try {
      reply = shared_->api.Handle(request);
    } catch (const std::exception& e) {
      shared_->Event("handler_exception", e.what());
      reply = ErrorReply(500, ErrorCode::kInternal, "internal error");
    } catch (...) {
      shared_->Event("handler_exception", "unknown exception");
      reply = ErrorReply(500, ErrorCode::kInternal, "internal error");
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const bool keep_alive = req.keep_alive() && !draining_ && !shared_->draining_flag;
    Log(request, reply, ms);
    Respond(std::move(reply), req.version(), keep_alive, /*linger=*/false, req.method() == http::verb::head);
  }

  void Log(const ApiRequest& request, const ApiReply& reply, double ms) {
    if (!config().access_log) return;
    AccessLogEntry e;
    e.time_ms = received_ms_;
    e.method = request.method;
    e.route = RouteOf(request.target);
    e.status = reply.status;
    e.duration_ms = ms;
    e.bytes_in = request.body.size();
    e.bytes_out = reply.body.size();
    auto auth = request.headers.find("authorization");
    if (!config().token_secret.empty() && auth != request.headers.end() && auth->second.rfind("Bearer ", 0) == 0) {
      auto claims = VerifyToken(std::string_view(auth->second).substr(7), config().token_secret, NowMs());
      if (claims.ok()) e.tenant = claims->tenant;
    }
    if (reply.status >= 400) {
      if (auto err = sync::DecodeError(reply.body)) {
        e.error_code = err->code;
        e.error_field = LoggableField(err->field);
      }
    }
    config().access_log(e);
  }

  // Answers a request we could not read whole, then closes without resetting the
  // connection under the client's feet.
  void Refuse(ApiReply reply, unsigned version) {
    // The request line is kept even when a later header made the parser give up.
    ApiRequest request;
    if (parser_) {
      request.method = std::string(parser_->get().method_string());
      request.target = std::string(parser_->get().target());
    }
    if (received_ms_ == 0) received_ms_ = NowMs();
    Log(request, reply, 0);
    Respond(std::move(reply), version, /*keep_alive=*/false, /*linger=*/true);
  }

  // A response and its serializer (which refers to it, so neither may move).
  struct Outgoing {
    explicit Outgoing(http::response<http::string_body>&& r) : res(std::move(r)), sr(res) {}
    http::response<http::string_body> res;
    http::serializer<false, http::string_body> sr;
  };

  void Respond(ApiReply reply, unsigned version, bool keep_alive, bool linger, bool head_only = false) {
    phase_ = Phase::kBusy;
    http::response<http::string_body> res(static_cast<http::status>(reply.status), version);
    res.set(http::field::server, "fieldbook-server");
    res.set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res.insert(name, value);
    res.body() = std::move(reply.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (head_only) res.body().clear();  // HEAD: the length of the body, not the body
    DoWrite(std::make_shared<Outgoing>(std::move(res)), linger);
  }

  // Written piece by piece with the timeout renewed for each, as the body is read.
  void DoWrite(std::shared_ptr<Outgoing> out, bool linger) {
    Lowest().expires_after(config().read_timeout);
    http::async_write_some(stream_, out->sr, [self = this->shared_from_this(), out, linger](beast::error_code ec, size_t) {
      if (!ec && !out->sr.is_done()) return self->DoWrite(out, linger);
      self->OnWrite(ec, out->res.need_eof(), linger);
    });
  }

  void OnWrite(beast::error_code ec, bool close, bool linger) {
    received_ms_ = 0;
    if (ec) return;
    if (linger) return DoLingerClose();
    if (close || draining_ || shared_->draining_flag) return DoClose();
    DoReadHeader();
  }

  void DoClose() {
    phase_ = Phase::kClosing;
    if constexpr (kTls) {
      Lowest().expires_after(kTlsShutdownTime);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void DoLingerClose() {
    phase_ = Phase::kClosing;
    if constexpr (kTls) {
      Lowest().expires_after(kTlsShutdownTime);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->DoLinger(); });
    } else {
      DoLinger();
    }
  }

  void DoLinger() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(kLingerTime);
    scratch_.resize(64 * 1024);
    DoDiscard();
  }

  void DoDiscard() {
    Lowest().async_read_some(net::buffer(scratch_), [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->DoDiscard();  // EOF, reset or the linger timeout end it
    });
  }

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::vector<char> scratch_;
  Phase phase_ = Phase::kIdle;
  bool draining_ = false;
  int64_t received_ms_ = 0;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, std::shared_ptr<Shared> shared)
      : ioc_(ioc), shared_(std::move(shared)), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()) {}

  Status Listen(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    auto fail = [&](const char* what) {
      return Status(ErrorCode::kUnreachable, std::string("cannot ") + what + " " + endpoint.address().to_string() +
                                                 ":" + std::to_string(endpoint.port()) + ": " + ec.message());
    };
    if (acceptor_.open(endpoint.protocol(), ec)) return fail("open a socket for");
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("set options on");
    if (acceptor_.bind(endpoint, ec)) return fail("bind");
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("listen on");
    return Status::Ok();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Run() { net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->DoAccept(); }); }

  void Stop() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
    });
  }

 private:
  void DoAccept() {
    if (stopped_) return;
    acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      self->OnAccept(ec, std::move(s));
    });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (stopped_ || ec == net::error::operation_aborted) return;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      shared_->Event("accept_failed", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->DoAccept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (shared_->tls) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), shared_)->Run();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), shared_)->Run();
    }
    DoAccept();
  }

  net::io_context& ioc_;
  std::shared_ptr<Shared> shared_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  bool stopped_ = false;  // on the acceptor's strand
};

Result<tcp::endpoint> Resolve(const std::string& host, uint16_t port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (!ec) return tcp::endpoint(address, port);
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status(ErrorCode::kInvalidArgument, "cannot resolve listen host " + host + ": " + ec.message(), "listen");
  }
  return results.begin()->endpoint();
}

Status SetUpTls(Shared& shared) {
  const auto& c = shared.config;
  if (c.tls_cert_file.empty() && c.tls_key_file.empty()) return Status::Ok();
  if (c.tls_cert_file.empty() || c.tls_key_file.empty()) {
    return Status(ErrorCode::kInvalidArgument, "TLS needs both a certificate and a key file", "tls");
  }
  shared.tls.emplace(ssl::context::tls_server);
  auto& ctx = *shared.tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  if (ctx.use_certificate_chain_file(c.tls_cert_file, ec)) {
    return Status(ErrorCode::kInvalidArgument, "cannot load TLS certificate " + c.tls_cert_file + ": " + ec.message(),
                  "tls_cert");
  }
  if (ctx.use_private_key_file(c.tls_key_file, ssl::context::pem, ec)) {
    return Status(ErrorCode::kInvalidArgument, "cannot load TLS key " + c.tls_key_file + ": " + ec.message(), "tls_key");
  }
  return Status::Ok();
}

}  // namespace

std::string AccessLogJson(const AccessLogEntry& e) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("time");
  w.Int64(e.time_ms);
  str("method", e.method);
  str("route", e.route);
  w.Key("status");
  w.Int(e.status);
  w.Key("duration_ms");
  w.Double(static_cast<double>(static_cast<int64_t>(e.duration_ms * 1000)) / 1000);
  if (!e.tenant.empty()) str("tenant", e.tenant);
  if (!e.error_code.empty()) str("error", e.error_code);
  if (!e.error_field.empty()) str("field", e.error_field);
  w.Key("bytes_in");
  w.Uint64(e.bytes_in);
  w.Key("bytes_out");
  w.Uint64(e.bytes_out);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

size_t WireBodyLimit(size_t api_max_body_bytes) {
  const size_t slack = api_max_body_bytes / 64 + (64u << 10);
  return api_max_body_bytes > SIZE_MAX - slack ? SIZE_MAX : api_max_body_bytes + slack;
}

struct HttpServer::Impl {
  std::shared_ptr<Shared> shared;
  net::io_context ioc;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  std::string host;
  uint16_t port = 0;
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu

  Impl(Api& api, HttpServerConfig config, int threads)
      : shared(std::make_shared<Shared>(api, std::move(config))), ioc(threads) {}
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Api& api, HttpServerConfig config) {
  const int threads = std::max(1, config.threads);
  FB_ASSIGN_OR_RETURN(tcp::endpoint endpoint, Resolve(config.host, config.port));
  auto impl = std::make_unique<Impl>(api, std::move(config), threads);
  FB_RETURN_IF_ERROR(SetUpTls(*impl->shared));
  impl->listener = std::make_shared<Listener>(impl->ioc, impl->shared);
  FB_RETURN_IF_ERROR(impl->listener->Listen(endpoint));
  impl->host = endpoint.address().to_string();
  impl->port = impl->listener->port();
  impl->listener->Run();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc, shared = impl->shared] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: that connection is lost, the server goes on.
          shared->Event("worker_exception", e.what());
        } catch (...) {
          shared->Event("worker_exception", "unknown exception");
        }
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

const std::string& HttpServer::host() const { return impl_->host; }
uint16_t HttpServer::port() const { return impl_->port; }
bool HttpServer::tls() const { return impl_->shared->tls.has_value(); }

void HttpServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  Shared& shared = *impl_->shared;
  impl_->listener->Stop();
  shared.api.BeginShutdown();
  std::vector<std::shared_ptr<SessionBase>> sessions;
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    shared.draining = true;
    shared.draining_flag = true;
    for (auto& [raw, weak] : shared.live) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& s : sessions) s->Drain();
  sessions.clear();  // a session must be able to die while we wait
  {
    std::unique_lock<std::mutex> lock(shared.mu);
    if (!shared.all_closed.wait_for(lock, shared.config.drain_timeout, [&] { return shared.live.empty(); })) {
      const size_t open = shared.live.size();
      lock.unlock();
      shared.Event("drain_timeout", std::to_string(open) + " connection(s) still open after " +
                                        std::to_string(shared.config.drain_timeout.count()) + " ms");
    }
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace fieldbook::server
