// Pieces of the Api shared by its facets (http_api.cc, blob_api.cc).
#pragma once

#include <memory>

#include "fieldbook/server/http_api.h"

namespace fieldbook::server {

// A pooled storage session, returned to the pool (rolled back) when the lease ends.
class Api::SessionLease {
 public:
  SessionLease(Api& api, std::unique_ptr<ServerSession> s) : api_(api), s_(std::move(s)) {}
  ~SessionLease() {
    if (s_) api_.Release(std::move(s_));
  }
  ServerSession& operator*() { return *s_; }
  ServerSession* operator->() { return s_.get(); }

 private:
  Api& api_;
  std::unique_ptr<ServerSession> s_;
};

}  // namespace fieldbook::server
