// The glue between a shard and the protocols: every accepted connection starts as HTTP/1.1
// (llhttp); a request to {path}/app/{key} upgrades it to a WebSocket Pusher session, any other
// request is answered by the router (health, HTTP API) on a keep-alive connection.
#pragma once

#include "ringcast/http/parser.h"
#include "ringcast/http/request.h"
#include "ringcast/pusher/context.h"
#include "ringcast/shard/shard.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace ringcast::server {

class connection_handler final : public shard::handler {
public:
    connection_handler(shard::shard& owner, const config::server& settings);

    void on_open(shard::conn& c) override;
    void on_data(shard::conn& c, std::string_view bytes) override;
    void on_timer(shard::conn& c) override;
    void on_closed(shard::conn& c) override;
    void on_mail(shard::mail& m) override;
    void on_shutdown(shard::conn& c) override;
    void on_tick() override { ctx_.on_tick(); }

private:
    struct state {
        std::unique_ptr<http::parser> http; // while the connection speaks HTTP
        pusher::session* ws = nullptr;      // after the upgrade
        bool discard = false;               // closing: ignore further input
        bool mid_request = false;
        std::uint32_t requests = 0; // answered on this connection
        std::uint64_t last_activity_ms = 0;
    };

    void handle_request(shard::conn& c, state& st, http::request req);
    void handle_upgrade(shard::conn& c, state& st, http::request req, std::string_view rest);
    void reply(shard::conn& c, state& st, std::string response, bool keep_alive);
    void refuse_websocket(shard::conn& c, state& st, std::uint16_t code, std::string_view message);
    void schedule_http_timer(shard::conn& c, state& st);
    // The request path with the server's --path prefix removed; false if it lacks the prefix.
    bool strip_prefix(std::string_view path, std::string_view& out) const noexcept;

    shard::shard& shard_;
    const config::server& settings_;
    pusher::context ctx_;
    http::limits limits_;
};

} // namespace ringcast::server
