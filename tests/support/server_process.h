// A real fieldbook-server child process for tests that go through the network, plus
// small process and raw-HTTP helpers.
//
// Guarantees:
//  1. The constructor never throws: it starts the binary from BinaryDir(), waits (bounded)
//     for its "listening on HOST:PORT" line, and on any failure kills and reaps the child
//     and explains why in error() (including the server's stderr). Check ok() first.
//  2. The destructor stops a running server (SIGTERM, then SIGKILL after a grace period)
//     and always reaps it: no zombie, no stray server after a failed test.
//  3. The child gets a hermetic environment: inherited FIELDBOOK_* variables are dropped,
//     only the ones the test passes are set.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fieldbook/server/server_store.h"
#include "support/test_support.h"

namespace fieldbook::testing {

using Environment = std::vector<std::pair<std::string, std::string>>;

struct ServerProcessOptions {
  // Extra command-line arguments, after the defaults.
  std::vector<std::string> args;
  // When set, the default flags name this PostgreSQL database (--postgres) instead of
  // the SQLite file in `dir`.
  std::string postgres;
  // Whether to pass --db, --listen 127.0.0.1:0 and --secret (false: the test configures
  // them itself, e.g. through the environment; the files are still created).
  bool default_flags = true;
  Environment env;
  // Directory for the database, secret and log; empty: a fresh temporary directory that
  // goes away with the process object. Pass one to restart a server on the same data.
  std::string dir;
  std::string secret = "server-process-secret-0123456789";
  std::chrono::milliseconds start_timeout{20000};
  std::chrono::milliseconds stop_grace{10000};

  static ServerProcessOptions WithArgs(std::vector<std::string> extra) {
    ServerProcessOptions o;
    o.args = std::move(extra);
    return o;
  }
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerProcessOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return port_ != 0; }
  const std::string& error() const { return error_; }

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string base_url() const;  // "http://HOST:PORT"
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_code_; }

  const std::string& dir() const { return dir_; }
  std::string db_file() const { return dir_ + "/server.db"; }
  std::string secret_file() const { return dir_ + "/secret"; }
  std::string log_file() const { return dir_ + "/server.log"; }
  const std::string& secret() const { return options_.secret; }
  // The PostgreSQL connection string it serves, empty for SQLite.
  const std::string& postgres() const { return options_.postgres; }
  // The server's stderr so far (the JSON access log).
  std::string Log() const;

  // A bearer token the server accepts (signed with its secret).
  std::string Token(const std::string& agent, const std::string& team, server::Role role = server::Role::kAgent,
                    const std::string& tenant = "t1", int64_t ttl_ms = 3600 * 1000) const;

  // Sends a signal (no-op once the process has exited).
  void Signal(int sig);
  // Waits for the process to exit and reaps it. Returns the exit code (128+N when killed
  // by signal N), or nullopt when it is still running after `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

 private:
  bool Start();
  void KillAndReap();

  ServerProcessOptions options_;
  std::unique_ptr<TempDir> temp_;
  std::string dir_;
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string error_;
};

// Runs a program to completion (bounded by `timeout`, then SIGKILL), capturing stdout and
// stderr. exit_code is 128+N when killed by signal N, -1 when it could not be started.
struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env = {},
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(20000));

// The fieldbook-server binary in BinaryDir().
std::string ServerBinary();

// A loopback port nothing listens on (bound, then released).
int UnusedPort();

// One raw HTTP/1.1 connection to 127.0.0.1, for requests a client library would not
// send and for watching connection behaviour (keep-alive, close).
class RawHttpConnection {
 public:
  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };

  explicit RawHttpConnection(int port);
  ~RawHttpConnection();
  RawHttpConnection(const RawHttpConnection&) = delete;
  RawHttpConnection& operator=(const RawHttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Send(const std::string& bytes);
  // One whole response (Content-Length framed, or up to EOF without one; headers only
  // when `head_only`, the answer to a HEAD request); nullopt when the connection closed or the
  // timeout passed first.
  std::optional<Response> Read(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                               bool head_only = false);
  // True when the peer closes the connection (EOF or reset) within `timeout`; unread data
  // is discarded.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  // Appends what arrives within the deadline; false on EOF, error or timeout.
  bool Fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
};

// "METHOD PATH HTTP/1.1" with Host, the given headers and a Content-Length body.
std::string HttpRequestText(const std::string& method, const std::string& path, const std::string& body = {},
                            const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace fieldbook::testing
