// What a protocol keeps for one connection (an HTTP request in progress, a Pusher session).
// The shard's conn owns it and calls it for everything that concerns that connection alone;
// shard::replace_state swaps it when the connection changes protocol (the WebSocket upgrade).
// Kept apart from shard.h so protocol code can implement it without seeing io_uring.
#pragma once

#include <string_view>

namespace ringcast::shard {

class conn_state {
public:
    virtual ~conn_state() = default;
    virtual void on_data(std::string_view bytes) = 0;
    // The timer asked for with set_timer is due.
    virtual void on_timer() = 0;
    // The server is stopping and accepts no more connections. Work in progress may finish
    // first (an HTTP request being read or answered): return true if there is some, and close
    // the connection once it is done; return false if there is none (an idle HTTP connection
    // closes itself here). A WebSocket session carries on, still delivering, until on_shutdown.
    virtual bool on_finish_up() { return false; }
    // Every shard has finished its work in progress (or the time for it ran out): say goodbye
    // in the protocol (e.g. a close frame) and close gracefully.
    virtual void on_shutdown() = 0;
    // A call for this connection threw (see the exception rule in shard.h): queue the goodbye
    // that says "internal error" in the connection's protocol. The shard closes it next.
    virtual void on_failure() = 0;
    // The connection is closing: release what is kept elsewhere (channel memberships, indexes).
    // No sends after this; the state is destroyed once the completion batch is over.
    virtual void on_closed() = 0;
};

} // namespace ringcast::shard
