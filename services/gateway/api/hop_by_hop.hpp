// Which headers a proxy forwards: the end-to-end ones (RFC 9110 §7.6.1). Hop-by-hop headers, any header a
// message's Connection headers name, Host and Content-Length (the next hop's framing is ours to set) stay
// on the hop they arrived on.
//
//   http::Headers out;
//   copy_end_to_end(request.headers, out);   // the request towards the upstream
//   keep_end_to_end(response.headers);       // the upstream's answer, in place
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include "mercato/http/message.hpp"

namespace mercato::gateway {

// Adds the end-to-end headers of `from` to `to`.
void copy_end_to_end(const http::Headers& from, http::Headers& to);

// Removes every header of `headers` that is not end to end.
void keep_end_to_end(http::Headers& headers);

}  // namespace mercato::gateway
