// `ringcast restart`: a new server takes its port over from the running one, so that no
// connection is refused and no publish fails while the server is replaced (a new build, new
// settings). The steps, each logged:
//   1. before binding: find the process(es) listening on host:port through /proc (a ringcast
//      started by the same user; anything else is refused);
//   2. bind our listeners with SO_REUSEPORT next to the old ones (the "already served" probe
//      of `ringcast start` is skipped on purpose), start the shards;
//   3. once they accept: steer every new connection to our listeners (net/takeover.h), then
//      SIGTERM the old server, which answers its requests in progress, closes its WebSockets
//      with 4200 (pusher-js reconnects at once, to us) and exits;
//   4. when it has exited, remove the steering.
#pragma once

#include "ringcast/net/takeover.h"

#include <cstdint>
#include <string>

namespace ringcast::server {

class takeover {
public:
    // Step 1. Throws std::runtime_error when the listener is not a ringcast's or is not ours.
    takeover(const std::string& host, std::uint16_t port);

    // Whether something serves the port (else `restart` is a plain start).
    [[nodiscard]] bool needed() const noexcept { return !old_.pids.empty(); }

    // Steps 3 and 4; `listen_fd` is one of our listeners, `our_sockets` how many we have.
    // Throws std::runtime_error if the steering cannot be attached (the old server is then
    // left running, and we should exit).
    void complete(int listen_fd, unsigned our_sockets);

private:
    std::string address_;
    net::port_owner old_;
};

} // namespace ringcast::server
