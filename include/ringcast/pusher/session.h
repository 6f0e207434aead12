// One WebSocket connection speaking the Pusher protocol: decodes frames (through ws::decoder),
// dispatches pusher:* messages and client events, keeps the connection's subscriptions and its
// signed-in user, and runs its liveness clock (server ping after ping_interval of silence,
// close 4201 when no reply follows; optional close 4009 for unauthorized connections).
//
// The code is split by concern: session.cpp (life cycle, dispatch, timers), subscriptions.cpp
// (channel kinds, auth, presence, cache), client_events.cpp, users.cpp (sign-in, watchlist).
#pragma once

#include "ringcast/core/status.h"
#include "ringcast/pusher/codes.h"
#include "ringcast/pusher/console.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/socket_id.h"
#include "ringcast/shard/conn_id.h"
#include "ringcast/shard/conn_state.h"
#include "ringcast/ws/decoder.h"

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::pusher {

class context;
struct local_channel;

class session final : public ws::message_sink, public shard::conn_state {
public:
    session(context& ctx, shard::conn_id c, std::uint32_t app, socket_key key);
    ~session() override;
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // shard::conn_state: WebSocket bytes in, the liveness timer, the server stopping (close
    // 1001), a call that threw (close 1011), the connection closing (leave everything).
    void on_data(std::string_view bytes) override;
    void on_timer() override;
    void on_shutdown() override;
    void on_failure() override;
    void on_closed() override;

    // The connection is going away: leave every channel, sign out.
    void leave_all();
    // Sends pusher:error with `c`, then a close frame with the same code, then closes.
    void close_with(code c, std::string_view message);

    // Answers from channel and user owners.
    void on_presence_joined(const presence_joined_mail& m);
    void on_cache_reply(const cache_reply_mail& m);
    // In a cluster: Redis counts this connection's subscription to `channel` now.
    void on_subscribed(const std::string& channel);
    void on_watch_status(const watch_status_mail& m);

    socket_key key() const noexcept { return key_; }
    // "123.456", for signatures and logs (built on demand; only the key is stored).
    std::string socket_id() const { return format_socket_id(key_); }
    std::uint32_t app() const noexcept { return app_; }
    shard::conn_id connection() const noexcept { return conn_; }
    const std::string& user_id() const noexcept { return view().user_id; }
    // The Origin the client connected from, as an index into the context's origin table.
    std::uint16_t origin() const noexcept { return origin_; }
    void set_origin(std::uint16_t index) noexcept { origin_ = index; }

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
    // --debug: one frame in ("->") or out ("<-"), unless the debug filter (core/log.h) hides it.
    void log_frame(const char* direction, std::string_view frame) const;
    void send(net::frame_ref f);
    void send_error(std::string_view message);
    void send_error(code c, std::string_view message);
    // A WebSocket close frame, then a graceful close; nothing more is read from the client.
    void send_close(std::uint16_t close_code, std::string_view reason);

    // subscriptions.cpp
    void handle_subscribe(simdjson::dom::element data);
    void handle_unsubscribe(simdjson::dom::element data);
    [[nodiscard]] core::status check_signature(std::string_view auth, std::string_view to_sign,
                                               std::string_view channel) const;
    [[nodiscard]] core::status signature_verdict(std::string_view auth, std::string_view to_sign,
                                                 std::string_view channel) const;
    // #server-to-user-{id}: only the signed-in user; otherwise answers the refusal, false.
    bool may_join_user_channel(std::string_view channel);
    // Checks a presence subscription's signature and member data, then asks the channel's owner
    // to add the member (its answer is on_presence_joined).
    void ask_presence_owner(std::string_view channel, simdjson::dom::object obj, std::string_view auth);
    // `wait_for_cluster`: the subscription_succeeded waits for the cluster's count (on_subscribed).
    void join_local(std::string_view channel, std::string presence_user, bool wait_for_cluster = false);
    // After a takeover: the channel's events this subscriber missed while it moved (replay.h).
    void replay_missed(std::string_view channel);
    void unsubscribe_at(size_t i);
    // Asks the channel's owner for its cached event (the answer is on_cache_reply).
    void request_cached_event(std::string_view channel);
    [[nodiscard]] const subscription* find_subscription(std::string_view channel) const noexcept;
    // Who this connection joined a presence channel as ("" for other channels).
    [[nodiscard]] std::string_view presence_user(const local_channel* ch) const noexcept;

    // client_events.cpp
    void handle_client_event(std::string_view event, simdjson::dom::object message);
    void console_client_event(std::string_view channel, std::string_view event, std::string_view data);

    // users.cpp
    void handle_signin(simdjson::dom::element data);
    // pusher:error 4009 and close 4009.
    void refuse_signin(std::string_view message);
    void sign_out();
    // Starts or stops watching the signed-in user's watchlist, one mail per owner shard.
    void post_watch(bool add);

    void schedule_timer();
    // For the debug console, when one watches this app (console.h).
    void console_note(console_kind kind, std::string_view channel);
    // The connection is ending with this close code: the console hears it once.
    void note_close(std::uint16_t close_code, std::string_view reason);
    // The time limit of a fragmented message (see message_started_s_).
    void watch_fragmented_message();

    context& ctx_;
    shard::conn_id conn_;
    std::uint32_t app_;
    socket_key key_;
    ws::decoder decoder_;
    std::vector<subscription> subs_;
    std::uint64_t opened_ms_ = 0;
    std::uint64_t last_seen_ms_ = 0;
    std::uint64_t ping_sent_ms_ = 0; // 0 = no ping outstanding
    // Client-event rate limit: events counted in the current one-second window.
    std::uint64_t rate_window_ms_ = 0;
    std::uint32_t rate_count_ = 0;
    // Reverb's per-connection message rate limit (all messages, when the app enables it).
    std::uint64_t message_window_ms_ = 0;
    std::uint32_t message_count_ = 0;

    // pusher:signin
    // What only some connections need (presence joins in flight, a signed-in user), allocated
    // on first use so that a plain subscriber stays small.
    struct extras {
        // Presence joins sent to the channel's owner and not answered yet: (channel, user id).
        std::vector<std::pair<std::string, std::string>> pending_presence;
        std::string user_id;            // pusher:signin
        std::string user_info = "null"; // JSON text
        std::vector<std::string> watchlist;
        // What the client was last told of each watched user (by watchlist index): -1 nothing
        // yet, 0 offline, 1 online. In a cluster a change can reach a watcher twice (its first
        // status read from Redis while the change's announcement was still on its way).
        std::vector<std::int8_t> watch_told;
        // Presence channels joined, and as whom (the user id client events carry).
        std::vector<std::pair<const local_channel*, std::string>> presence_users;
    };
    std::unique_ptr<extras> more_;
    extras& more() {
        if (!more_) {
            more_ = std::make_unique<extras>();
        }
        return *more_;
    }
    const extras& view() const noexcept {
        static const extras none;
        return more_ ? *more_ : none;
    }
    bool authorized_ = false; // signed in or joined a private/presence channel
    bool closing_ = false;
    std::uint16_t origin_ = 0; // index into the context's origin table (fits in padding)
    // When the fragmented message being received began (monotonic seconds; 0 = none): one may
    // stay open only so long, or a peer could keep it open forever with a frame now and then.
    std::uint32_t message_started_s_ = 0;
};

} // namespace ringcast::pusher
