// One WebSocket connection speaking the Pusher protocol: decodes frames (through ws::decoder),
// dispatches pusher:* messages, keeps the connection's subscriptions, and runs its liveness
// clock (server ping after ping_interval of silence, close 4201 when no reply follows).
#pragma once

#include "ringcast/pusher/codes.h"
#include "ringcast/shard/shard.h"
#include "ringcast/ws/decoder.h"

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::pusher {

class context;
struct local_channel;

class session final : public ws::message_sink {
public:
    session(context& ctx, shard::conn& c, std::uint32_t app, std::string socket_id);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    void feed(std::string_view bytes);
    void on_timer();
    // Leaves every channel; the connection is going away.
    void leave_all();
    // Sends pusher:error with `c`, then a close frame with the same code, then closes.
    void close_with(code c, std::string_view message);
    void close_for_shutdown();

    const std::string& socket_id() const noexcept { return socket_id_; }
    std::uint32_t app() const noexcept { return app_; }
    shard::conn& connection() noexcept { return conn_; }

    // Position of this session in each channel's member list, so leaving is O(1).
    struct subscription {
        local_channel* channel;
        std::uint32_t index;
    };
    std::vector<subscription>& subscriptions() noexcept { return subs_; }

    // ws::message_sink
    void on_text(std::string_view message) override;
    void on_control_bytes(std::string_view bytes) override;

private:
    void send(net::frame_ref f);
    void send_error(std::string_view message);
    void handle_subscribe(simdjson::dom::element data);
    void handle_unsubscribe(simdjson::dom::element data);
    [[nodiscard]] std::string check_auth(std::string_view channel, simdjson::dom::object data) const;
    void unsubscribe_at(size_t i);
    void schedule_timer();

    context& ctx_;
    shard::conn& conn_;
    std::uint32_t app_;
    std::string socket_id_;
    ws::decoder decoder_;
    std::vector<subscription> subs_;
    std::uint64_t last_seen_ms_ = 0;
    std::uint64_t ping_sent_ms_ = 0; // 0 = no ping outstanding
    bool closing_ = false;
};

} // namespace ringcast::pusher
