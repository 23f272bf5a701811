#include "support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

#include "fieldbook/core/env.h"
#include "fieldbook/server/auth.h"

extern char** environ;

namespace fieldbook::testing {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1000));
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// The parent's environment without FIELDBOOK_* variables, plus `extra` (which wins).
std::vector<std::string> ChildEnvironment(const Environment& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("FIELDBOOK_", 0) == 0) continue;
    bool overridden = false;
    for (const auto& [name, value] : extra) overridden |= entry.rfind(name + "=", 0) == 0;
    if (!overridden) out.push_back(entry);
  }
  for (const auto& [name, value] : extra) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts argv with stdin from /dev/null, stdout into a pipe (read end returned in
// out_fd) and stderr into err_fd's pipe or, when err_path is set, appended to that file.
pid_t Spawn(std::vector<std::string> argv, const Environment& env, int* out_fd, int* err_fd,
            const std::string& err_path, std::string* error) {
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || (err_path.empty() && pipe2(err_pipe, O_CLOEXEC) != 0)) {
    *error = std::string("pipe: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  if (err_path.empty()) {
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  // The child starts with default signal handling and nothing blocked, whatever this
  // (multi-threaded) test process has set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> envp = ChildEnvironment(env);
  auto c_argv = CStrings(argv);
  auto c_envp = CStrings(envp);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, c_argv[0], &actions, &attr, c_argv.data(), c_envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  if (err_pipe[1] >= 0) close(err_pipe[1]);
  if (rc != 0) {
    *error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    close(out_pipe[0]);
    if (err_pipe[0] >= 0) close(err_pipe[0]);
    return -1;
  }
  *out_fd = out_pipe[0];
  if (err_fd != nullptr) *err_fd = err_pipe[0];
  return pid;
}

// Waits for pid to exit until the deadline; the exit code, or nullopt if still running.
std::optional<int> Reap(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitCodeOf(status);
    if (r < 0 && errno != EINTR) return -1;  // not our child any more: nothing to reap
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int ReapBlocking(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return ExitCodeOf(status);
}

}  // namespace

std::string ServerBinary() { return BinaryDir() + "/fieldbook-server"; }

// ---------------------------------------------------------------- ServerProcess

ServerProcess::ServerProcess(ServerProcessOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) {
    temp_ = std::make_unique<TempDir>();
    dir_ = temp_->path().string();
  } else {
    dir_ = options_.dir;
  }
  if (!Start()) KillAndReap();
}

ServerProcess::~ServerProcess() {
  if (running()) {
    Signal(SIGTERM);
    if (!WaitExit(options_.stop_grace)) KillAndReap();
  }
}

bool ServerProcess::Start() {
  WriteFile(secret_file(), options_.secret + "\n");
  std::vector<std::string> argv = {ServerBinary()};
  if (options_.default_flags) {
    if (options_.postgres.empty()) {
      argv.insert(argv.end(), {"--db", db_file()});
    } else {
      argv.insert(argv.end(), {"--postgres", options_.postgres});
    }
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0", "--secret", secret_file()});
  }
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  int out_fd = -1;
  pid_ = Spawn(argv, options_.env, &out_fd, nullptr, log_file(), &error_);
  if (pid_ < 0) return false;

  const auto deadline = Clock::now() + options_.start_timeout;
  std::string line;
  bool eof = false;
  while (line.find('\n') == std::string::npos && !eof) {
    if (Clock::now() >= deadline) break;
    pollfd p{out_fd, POLLIN, 0};
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    char buf[256];
    const ssize_t got = read(out_fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof = true;
    } else {
      line.append(buf, static_cast<size_t>(got));
    }
  }
  // Nothing else is expected on stdout; the server ignores SIGPIPE should it write more.
  close(out_fd);

  const std::string prefix = "listening on ";
  const size_t newline = line.find('\n');
  if (newline == std::string::npos || line.rfind(prefix, 0) != 0) {
    if (eof) {
      exit_code_ = ReapBlocking(pid_);
      error_ = "fieldbook-server exited with code " + std::to_string(*exit_code_) + " before listening";
    } else {
      error_ = "fieldbook-server did not print \"listening on HOST:PORT\" within " +
               std::to_string(options_.start_timeout.count()) + " ms";
    }
    error_ += "; stdout: \"" + line + "\"; stderr: " + Log();
    return false;
  }
  const std::string where = line.substr(prefix.size(), newline - prefix.size());
  const size_t colon = where.rfind(':');
  host_ = where.substr(0, colon);
  port_ = colon == std::string::npos ? 0 : std::atoi(where.c_str() + colon + 1);
  if (port_ <= 0) {
    error_ = "cannot read the port from \"" + line + "\"";
    return false;
  }
  return true;
}

void ServerProcess::KillAndReap() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    exit_code_ = ReapBlocking(pid_);
  }
  port_ = 0;
}

std::string ServerProcess::base_url() const { return "http://" + host_ + ":" + std::to_string(port_); }

std::string ServerProcess::Log() const { return ReadFile(log_file()); }

std::string ServerProcess::Token(const std::string& agent, const std::string& team, server::Role role,
                                 const std::string& tenant, int64_t ttl_ms) const {
  server::TokenClaims c;
  c.tenant = tenant;
  c.agent = agent;
  c.team = team;
  c.role = role;
  c.issued_at_ms = SystemEnv().NowMs();
  c.expires_at_ms = c.issued_at_ms + ttl_ms;
  c.id = agent + "-" + std::to_string(SystemEnv().Random64());
  return server::SignToken(c, options_.secret);
}

void ServerProcess::Signal(int sig) {
  if (running()) kill(pid_, sig);
}

std::optional<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  exit_code_ = Reap(pid_, Clock::now() + timeout);
  return exit_code_;
}

// ---------------------------------------------------------------- RunProcess

ProcessResult RunProcess(const std::vector<std::string>& argv, const Environment& env,
                         std::chrono::milliseconds timeout) {
  ProcessResult result;
  int out_fd = -1, err_fd = -1;
  std::string error;
  const pid_t pid = Spawn(argv, env, &out_fd, &err_fd, "", &error);
  if (pid < 0) {
    result.err = error;
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0 && Clock::now() < deadline) {
    const int n = poll(fds, 2, MillisLeft(deadline));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && n > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  auto code = Reap(pid, deadline);
  if (!code) {
    kill(pid, SIGKILL);
    code = ReapBlocking(pid);
    result.err += "\n[killed after " + std::to_string(timeout.count()) + " ms]";
  }
  result.exit_code = *code;
  return result;
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// ---------------------------------------------------------------- RawHttpConnection

RawHttpConnection::RawHttpConnection(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  // With no listener on a port of the ephemeral range, the kernel may give the socket that
  // same port as its own and the connect succeeds to itself (TCP self-connect): nobody is
  // listening there, so it is no connection.
  sockaddr_in local{};
  socklen_t size = sizeof local;
  if (fd_ >= 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &size) == 0 && local.sin_port == addr.sin_port &&
      local.sin_addr.s_addr == addr.sin_addr.s_addr) {
    close(fd_);
    fd_ = -1;
  }
}

RawHttpConnection::~RawHttpConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawHttpConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

bool RawHttpConnection::Fill(Clock::time_point deadline) {
  while (fd_ >= 0 && Clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    char buf[16384];
    const ssize_t got = recv(fd_, buf, sizeof buf, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(got));
    return true;
  }
  return false;
}

std::optional<RawHttpConnection::Response> RawHttpConnection::Read(std::chrono::milliseconds timeout, bool head_only) {
  const auto deadline = Clock::now() + timeout;
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) return std::nullopt;
  }
  Response r;
  const std::string head = buffer_.substr(0, end);
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
  r.status = std::atoi(status_line.c_str() + 9);
  while (line_end != std::string::npos) {
    const size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    r.headers[name] = line.substr(v);
  }
  buffer_.erase(0, end + 4);
  if (r.status == 100) return Read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), head_only);
  if (head_only) return r;  // a HEAD answer has no body, whatever Content-Length says
  auto length = r.headers.find("content-length");
  if (length != r.headers.end()) {
    const size_t want = std::stoul(length->second);
    while (buffer_.size() < want) {
      if (!Fill(deadline)) return std::nullopt;
    }
    r.body = buffer_.substr(0, want);
    buffer_.erase(0, want);
  } else {
    while (Fill(deadline)) {
    }
    r.body = std::move(buffer_);
    buffer_.clear();
  }
  return r;
}

bool RawHttpConnection::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (fd_ >= 0 && Clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    const int n = poll(&p, 1, MillisLeft(deadline));
    if (n < 0 && errno != EINTR) return true;
    if (n <= 0) continue;
    char buf[16384];
    const ssize_t got = recv(fd_, buf, sizeof buf, 0);
    if (got == 0 || (got < 0 && errno != EINTR)) return true;
  }
  return fd_ < 0;
}

std::string HttpRequestText(const std::string& method, const std::string& path, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n" + body;
  return out;
}

}  // namespace fieldbook::testing
