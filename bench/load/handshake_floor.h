// The connect ceiling's "server" (`connect --floor`): the least a server must do for the connect
// scenario's clients. It accepts on io_uring, reads the upgrade request until its blank line,
// answers 101 with the Sec-WebSocket-Accept the client checks (the same SHA-1 call ringcast
// makes) and a canned pusher:connection_established, reads one WebSocket frame (the subscribe)
// without parsing it, answers a canned subscription_succeeded, and closes when the client does.
// No HTTP parser, no JSON, no channel, no session. It runs in a forked child, so its CPU time
// (/proc, as for any --server-pid) is the machine's floor for a connect + subscribe.
#pragma once

namespace ringcast::bench {

// The child's whole life: serves `listen_fd` until it is killed. Returns an exit status only
// when its ring fails.
[[nodiscard]] int run_handshake_floor(int listen_fd);

} // namespace ringcast::bench
