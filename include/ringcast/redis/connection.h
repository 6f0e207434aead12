// One connection to Redis on a ring (net/stream.h), for the thread that talks to Redis on a
// node's behalf: it connects, authenticates, selects the database, then carries pipelined
// commands (replies come back in order, each to its callback) or, as a subscriber, pub/sub
// messages. When the connection is lost it says so and reconnects with backoff by itself; a
// subscriber's owner re-subscribes from its `ready` callback.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/ring.h"
#include "ringcast/net/stream.h"
#include "ringcast/net/tls_client.h"
#include "ringcast/redis/resp.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::redis {

class connection final : private net::stream::events {
public:
    enum class role { commands, subscriber };
    using reply_fn = std::function<void(const value&)>;
    struct callbacks {
        std::function<void()> ready;                  // connected, authenticated, database selected
        std::function<void(const std::string&)> lost; // why; a reconnect follows by itself
        std::function<void(const value&)> message;    // subscriber: ["message", channel, payload]
    };

    // Bounds: replies waiting, and the backoff between reconnects.
    static constexpr std::size_t max_pending = 100'000;
    static constexpr std::uint64_t first_backoff_ms = 100;
    static constexpr std::uint64_t max_backoff_ms = 5000;
    static constexpr std::uint64_t handshake_timeout_ms = 5000;

    connection(const config::redis_settings& settings, const net::tls_context* tls, role r, callbacks cb);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void start(net::ring& r, std::uint64_t now_ms);
    // Sends a command. False, without sending, while not ready or with max_pending replies
    // waiting: the caller decides what to keep. `reply` gets the answer, or an error value
    // ("-connection lost") if the connection goes first.
    bool command(std::span<const std::string_view> args, reply_fn reply = {});
    bool command(std::initializer_list<std::string_view> args, reply_fn reply = {}) {
        return command(std::span<const std::string_view>(args.begin(), args.size()), std::move(reply));
    }
    // Reconnects when due, and gives up on a handshake that takes too long.
    void tick(std::uint64_t now_ms);
    [[nodiscard]] std::uint64_t next_due() const noexcept;
    [[nodiscard]] bool ready() const noexcept { return ready_; }
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
    void stop();

private:
    void on_connected() override;
    void on_data(std::string_view data) override;
    void on_closed(const std::string& why) override;
    void open();
    void handshake();
    void send(std::span<const std::string_view> args, reply_fn reply);
    void deliver(value& v);
    void lose(const std::string& why);

    config::redis_settings settings_;
    const net::tls_context* tls_;
    role role_;
    callbacks cb_;
    net::ring* ring_ = nullptr;
    net::stream stream_{*this};
    std::string in_;
    std::deque<reply_fn> pending_;
    bool ready_ = false;
    bool stopped_ = false;
    std::uint64_t now_ms_ = 0;
    std::uint64_t reconnect_at_ms_ = 0;  // 0: not waiting to reconnect
    std::uint64_t handshake_due_ms_ = 0; // 0: not connecting
    std::uint64_t backoff_ms_ = first_backoff_ms;
    std::string last_error_;
};

} // namespace ringcast::redis
