// The Status a sync client reports for a server's non-2xx answer, shared by the sync
// round trip and the blob transfers.
#pragma once

#include <string>

#include "fieldbook/core/status.h"
#include "fieldbook/sync/client.h"

namespace fieldbook::sync {

// The server's stable error code when its body names one, else one from the HTTP status;
// `what` names the refused thing ("the sync", "the upload of blob ...").
Status StatusFromHttp(const HttpResponse& response, const std::string& what);

}  // namespace fieldbook::sync
