// The only file that includes cpprest headers (they compile slowly).
#include "fieldbook/sync/cpprest_transport.h"

#include <cpprest/http_client.h>

#include <cctype>
#include <cerrno>
#include <fstream>
#include <system_error>

namespace fieldbook::sync {
namespace {

namespace http = web::http;
namespace client = web::http::client;

bool SameName(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return i == a.size() && b[i] == '\0';
}

bool IsTimeout(const std::error_code& ec) {
  return ec == std::errc::timed_out || ec.value() == ETIMEDOUT;
}

}  // namespace

struct CpprestTransport::Client {
  Client(const std::string& base_url, const client::http_client_config& config) : http(base_url, config) {}
  client::http_client http;
};

CpprestTransport::CpprestTransport(std::string base_url, CpprestTransportOptions options)
    : base_url_(std::move(base_url)) {
  if (!options.ca_file.empty() && !std::ifstream(options.ca_file)) {
    invalid_ = Status(ErrorCode::kInvalidArgument, "cannot read CA file " + options.ca_file, "ca_file");
    return;
  }
  client::http_client_config config;
  config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(options.timeout));
  config.set_request_compressed_response(false);  // raw bytes: the sync client gunzips
  config.set_validate_certificates(options.verify_tls);
  if (!options.ca_file.empty()) {
    config.set_ssl_context_callback([ca = options.ca_file](boost::asio::ssl::context& ctx) {
      boost::system::error_code ignored;  // checked readable above; a bad file fails the handshake
      ctx.load_verify_file(ca, ignored);
    });
  }
  try {
    const web::uri uri(base_url_);
    if (uri.scheme() != "http" && uri.scheme() != "https") {
      invalid_ = Status(ErrorCode::kInvalidArgument, "server URL must start with http:// or https://: " + base_url_,
                        "url");
      return;
    }
    client_ = std::make_unique<Client>(base_url_, config);
  } catch (const std::exception& e) {
    invalid_ = Status(ErrorCode::kInvalidArgument, "not a valid server URL: " + base_url_ + " (" + e.what() + ")", "url");
  }
}

CpprestTransport::~CpprestTransport() = default;

namespace {

// Runs `step` (building and starting a request, or collecting its reply), turning what
// cpprest throws into the Status the interface promises.
template <typename F>
auto Guarded(const std::string& base_url, const std::string& path, F&& step) -> Result<decltype(step())> {
  try {
    return step();
  } catch (const web::uri_exception& e) {
    return Status(ErrorCode::kInvalidArgument, "not a valid request path " + path + ": " + e.what(), "path");
  } catch (const http::http_exception& e) {
    if (IsTimeout(e.error_code())) {
      return Status(ErrorCode::kTimeout, base_url + " did not answer in time: " + e.what());
    }
    return Status(ErrorCode::kUnreachable, "cannot reach " + base_url + ": " + e.what());
  } catch (const std::exception& e) {
    return Status(ErrorCode::kUnreachable, "HTTP exchange with " + base_url + " failed: " + e.what());
  } catch (...) {
    return Status(ErrorCode::kUnreachable, "HTTP exchange with " + base_url + " failed");
  }
}

// An exchange on cpprest's own threads: the request is written and the whole reply read
// while the caller works; Wait collects it.
class CpprestExchange : public PendingExchange {
 public:
  CpprestExchange(std::string base_url, std::string path, Result<pplx::task<HttpResponse>> task)
      : base_url_(std::move(base_url)), path_(std::move(path)), task_(std::move(task)) {}
  ~CpprestExchange() override {
    if (!waited_ && task_.ok()) {
      // Abandoned: its outcome is observed and dropped whenever it comes (pplx ends the
      // process over a failure nobody observed).
      task_->then([](pplx::task<HttpResponse> done) {
        try {
          done.get();
        } catch (...) {
        }
      });
    }
  }
  CpprestExchange(const CpprestExchange&) = delete;
  CpprestExchange& operator=(const CpprestExchange&) = delete;

  Result<HttpResponse> Wait() override {
    if (waited_) return Status(ErrorCode::kInternal, "this exchange was already collected");
    waited_ = true;
    if (!task_.ok()) return task_.status();
    return Guarded(base_url_, path_, [&] { return task_->get(); });
  }

 private:
  const std::string base_url_;
  const std::string path_;
  Result<pplx::task<HttpResponse>> task_;
  bool waited_ = false;
};

}  // namespace

std::unique_ptr<PendingExchange> CpprestTransport::Begin(const HttpRequest& request) {
  if (!client_) return std::make_unique<CpprestExchange>(base_url_, request.path, invalid_);
  Result<pplx::task<HttpResponse>> task = Guarded(base_url_, request.path, [&] {
    http::http_request req(request.method);
    req.set_request_uri(web::uri(request.path));
    if (!request.body.empty() || request.method != "GET") {
      req.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    }
    for (const auto& [name, value] : request.headers) {
      // cpprest frames the message itself; everything else goes out as given (replacing
      // the defaults set_body chose, e.g. its Content-Type).
      if (SameName(name, "Content-Length") || SameName(name, "Host")) {
        continue;
      }
      req.headers()[name] = value;
    }
    return client_->http.request(req).then([](http::http_response res) {
      return res.extract_vector().then([status = res.status_code()](const std::vector<unsigned char>& body) {
        return HttpResponse{status, std::string(body.begin(), body.end())};
      });
    });
  });
  return std::make_unique<CpprestExchange>(base_url_, request.path, std::move(task));
}

Result<HttpResponse> CpprestTransport::Send(const HttpRequest& request) { return Begin(request)->Wait(); }

std::unique_ptr<PendingExchange> CpprestTransport::Start(HttpRequest request) { return Begin(request); }

Result<std::unique_ptr<CpprestTransport>> MakeCpprestTransport(std::string base_url,
                                                               CpprestTransportOptions options) {
  auto transport = std::make_unique<CpprestTransport>(std::move(base_url), std::move(options));
  if (!transport->status().ok()) return transport->status();
  return transport;
}

}  // namespace fieldbook::sync
