// TLS for the bench's clients (`--tls`): the sessions are the server's own (net/tls_client.h);
// the bench adds a blocking handshake for its publisher connections.
#pragma once

#include "ringcast/net/tls_client.h"

#include <string>

namespace ringcast::bench {

using net::tls_context;
using net::tls_session;

// The publisher's connections are opened with a blocking connect(); their handshake is done the
// same way, right after, over the same memory BIOs: false (with `error`) if it fails.
[[nodiscard]] bool tls_handshake_blocking(int fd, tls_session& session, std::string& error);

} // namespace ringcast::bench
