// The debug console: a page served by ringcast itself that shows one app live — its
// connections, channels, presence members and an event stream — and can publish a test event.
// Everything is under settings.console.path on the public port (so it also works through the
// nginx of the chapter), off unless configured, and behind a token:
//
//   GET  PATH                    the page (src/console/console.html, built into the binary)
//   GET  PATH/stream (upgrade)   a WebSocket: "hello", then an "update" about every second
//   POST PATH/apps/ID/events     the event creator: the HTTP API's own events endpoint, with the
//                                token in place of the app's signature
//
// The stream is pulled, not pushed: the stream's shard polls every shard (pusher/console.h)
// only once the page has read the previous update, so a slow page gets fewer updates and loses
// the oldest events (counted in the update) while delivery to everyone else is untouched.
// In a cluster the bridge is polled too: it answers with what the other nodes sent it for this
// app (cluster/console.cpp), so a page on any node shows the whole cluster, the other nodes'
// part up to a second or two later. Channels then come once per node, each with that node's
// subscribers (the page adds them up).
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/http/request.h"
#include "ringcast/pusher/console.h"
#include "ringcast/shard/conn_state.h"
#include "ringcast/shard/shard.h"
#include "ringcast/ws/decoder.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::server {

class connection_handler;

// The page's HTML (generated at build time from src/console/console.html).
[[nodiscard]] std::string_view console_page() noexcept;

// What a token opens: every app (the console's token) or one (that app's secret).
struct console_access {
    bool all = false;
    int app = -1;
    [[nodiscard]] bool grants(int index) const noexcept { return index >= 0 && (all || app == index); }
};

// The request's token (?token= or Authorization: Bearer) checked against the console token and,
// when `app` names one, that app's secret. Compared in constant time.
[[nodiscard]] console_access console_access_of(const config::server& s, const http::request& req, int app);
// The app= query parameter's app index, or -1.
[[nodiscard]] int console_app_of(const config::server& s, const http::request& req);

// One open console page: a WebSocket that only the server writes to.
class console_stream final : public ws::message_sink, public shard::conn_state {
public:
    console_stream(connection_handler& handler, shard::conn& c, std::uint32_t app, console_access access);
    ~console_stream() override;
    console_stream(const console_stream&) = delete;
    console_stream& operator=(const console_stream&) = delete;

    void on_data(std::string_view bytes) override;
    // Polls the shards when the page has read the last update (or gives up on a stalled page).
    void on_timer() override;
    void on_shutdown() override { close(1001, "Server shutting down"); }
    void on_failure() override { closing_ = true; }
    void on_closed() override { closing_ = true; }
    void on_text(std::string_view) override {} // the page sends nothing that matters
    void on_control_bytes(std::string_view bytes) override;

    // Sends "hello" and the first poll.
    void start();
    // Every shard's answer to one poll: sends the update.
    void deliver(std::vector<std::unique_ptr<pusher::console_part>>& parts);

    std::uint32_t app() const noexcept { return app_; }
    std::uint64_t cursor(unsigned shard) const noexcept { return cursors_[shard]; }
    shard::conn_id connection() const noexcept { return conn_.id(); }

private:
    void poll();
    void close(std::uint16_t code, std::string_view reason);
    [[nodiscard]] std::string hello() const;

    connection_handler& handler_;
    shard::conn& conn_;
    std::uint32_t app_;
    console_access access_;
    ws::decoder decoder_;
    std::vector<std::uint64_t> cursors_; // per shard: where its next poll starts
    std::uint64_t dropped_ = 0;
    std::uint64_t last_read_ms_ = 0; // when the page last had everything we sent
    bool polling_ = false;
    bool closing_ = false;
};

} // namespace ringcast::server
