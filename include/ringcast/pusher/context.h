// The Pusher protocol state of one shard: its apps' local channels (which of this shard's
// connections subscribe to what), the socket_id index, and the JSON parser. Owned by the shard's
// thread; other shards reach it only through mail (publish_mail). It reaches its shard only
// through a port (port.h), so it runs the same over a real shard or the tests' fake ones.
//
// Channels are sharded by hash of (app, name): owner_of() names the shard that will hold a
// channel's authoritative cross-shard state (presence members, counts, cache). Delivery does not
// need the owner: a publish is encoded once and handed to every shard, each of which writes it
// to its own local subscribers.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/frame.h"
#include "ringcast/pusher/console.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/metrics.h"
#include "ringcast/pusher/owner.h"
#include "ringcast/pusher/port.h"
#include "ringcast/pusher/publish_routes.h"
#include "ringcast/pusher/query.h"
#include "ringcast/pusher/replay.h"
#include "ringcast/pusher/shared_counters.h"
#include "ringcast/pusher/socket_id.h"
#include "ringcast/pusher/string_hash.h"
#include "ringcast/shard/conn_id.h"
#include "ringcast/shard/mail.h"
#include "ringcast/webhook/event.h"

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringcast::pusher {

class session;

// One channel's subscribers on this shard (local_member: port.h).
struct local_channel {
    std::string name;
    std::uint32_t app = 0;
    std::vector<local_member> members;
};

// Channel name -> local subscribers, found by string_view without building a string. Node-based,
// so local_channel addresses stay stable while sessions point at them.
using channel_map = std::unordered_map<std::string, local_channel, string_hash, std::equal_to<>>;

class context {
public:
    context(port& io, const config::server& settings, shared_counters& counters);
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    // The shard this context runs on (the only way out of the Pusher layer).
    port& io() noexcept { return io_; }
    const config::server& settings() const noexcept { return *settings_; }
    const config::app& app(std::uint32_t index) const noexcept { return settings_->apps[index]; }
    // Index into settings().apps, or -1.
    [[nodiscard]] int find_app_by_key(std::string_view key) const noexcept;
    [[nodiscard]] int find_app_by_id(std::string_view id) const noexcept;

    // The shard that owns a channel's cross-shard state.
    [[nodiscard]] unsigned owner_of(std::uint32_t app, std::string_view channel) const noexcept;
    // Where a cache channel's last event is kept: its owner shard, or in a cluster the bridge
    // (which keeps it in Redis, so every node sees the latest whichever node it was sent to).
    [[nodiscard]] unsigned keeper_of(std::uint32_t app, std::string_view channel) const noexcept;
    // The shard that tracks whether a signed-in user is online (for watchlists).
    [[nodiscard]] unsigned user_owner_of(std::uint32_t app, std::string_view user_id) const noexcept;

    // Starts the Pusher session on an upgraded connection (sends connection_established), or
    // returns nullptr when the app is at its max_connections. The caller owns the session (the
    // shard's conn does, as its conn_state); the context keeps an index of it until
    // close_session.
    // `admitted`: the cluster has counted it against max_connections already (in Redis).
    // `origin`: the upgrade request's Origin header (for the debug console).
    std::unique_ptr<session> open_session(shard::conn_id c, std::uint32_t app, bool admitted = false,
                                          std::string_view origin = {});
    // In a cluster, has the bridge send this node's connection counts to Redis soon.
    void connections_changed();
    // The session's connection is closing: it leaves its channels and the index.
    void close_session(session& s);

    // Delivers `frame` to every subscriber of the channel on every shard, except the
    // connection with socket key `except` (0: none). Called on the shard that received the publish.
    void publish(std::uint32_t app, std::string_view channel, const net::frame_ref& frame, socket_key except);
    // What the app or a client sends (HTTP API events, client events), as opposed to what this
    // node's own state produces: publish() on a single node; in a cluster (port::bridge) it goes
    // to the bridge instead, which delivers it here and on every node in Redis's order. With
    // `ack_id`, the bridge answers with a query_reply_mail of that id once Redis has it. True
    // when it went to the bridge.
    bool broadcast(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                   socket_key except, std::uint64_t ack_id = 0);
    // In a cluster, has the other nodes close the user's connections too (terminate_connections).
    void terminate_elsewhere(std::uint32_t app, std::string_view user_id);
    // Mail from another shard (or this one): hands it to mail::deliver.
    void on_mail(shard::mail& m);
    // New app settings (SIGHUP): same indices for existing apps, new ones appended; sessions of
    // apps that are now disabled are closed with 4003.
    void reload(const config::server& settings);

    void on_tick();

    // Where webhook events go (set by the server layer; none by default, as in the unit tests).
    void set_webhooks(webhook::sink* sink) noexcept { webhooks_ = sink; }
    // Whether an event of kind `k` would go anywhere: checked before one is built.
    [[nodiscard]] bool wants_webhook(std::uint32_t app_index, config::webhook_kind k) const noexcept {
        return webhooks_ != nullptr && app(app_index).wants_webhook(k);
    }
    void emit_webhook(webhook::event ev) { webhooks_->emit(std::move(ev)); }

    // The debug console (console.h): whether one watches the app (check before building an
    // event), recording one, the origin table, and this shard's answer to a console poll.
    [[nodiscard]] bool console_watching(std::uint32_t app) const noexcept {
        return counters_.app(app).console_watchers.load(std::memory_order_relaxed) != 0;
    }
    void console_record(console_event ev);
    [[nodiscard]] std::string_view origin_of(std::uint16_t index) const noexcept {
        return console_.origin(index);
    }
    void answer_console(const query_mail& q, console_part& out);

    // Where answers to this shard's HTTP API queries go (set by the server layer).
    void set_query_reply_handler(std::function<void(query_reply_mail&)> h) { on_query_reply_ = std::move(h); }
    // WebSocket connections of an app on this shard.
    [[nodiscard]] std::uint64_t connections(std::uint32_t app) const noexcept { return connections_[app]; }
    [[nodiscard]] session* find_session(socket_key socket) const noexcept;

    // Subscription bookkeeping used by session.
    local_channel& join(std::uint32_t app, std::string_view channel, session& s);
    // Removes the member at `index` (the session's recorded position) in O(1).
    void leave(local_channel& ch, std::uint32_t index);

    // Three parsers, because documents nest: a client message (json), a JSON string inside it
    // such as channel_data (scratch_json), and the user_data of a sign-in (user_json).
    shared_counters& counters() noexcept { return counters_; }
    // This shard's metrics (read by the scrape on shard 0's thread).
    metrics& stats() noexcept { return stats_; }
    const metrics& stats() const noexcept { return stats_; }
    simdjson::dom::parser& json() noexcept { return json_; }
    simdjson::dom::parser& scratch_json() noexcept { return scratch_json_; }
    simdjson::dom::parser& user_json() noexcept { return user_json_; }

    // Where mail::deliver hands each kind (see mail.cpp).
    owner_state& owned() noexcept { return owned_; }
    // False when nobody on this shard subscribes to the channel.
    bool publish_local(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                       socket_key except);
    void on_publish_mail(const publish_mail& m);
    publish_routes& routes() noexcept { return routes_; }
    void answer(query_mail& q);
    void on_presence_joined(const presence_joined_mail& m);
    void on_query_reply(query_reply_mail& r);
    // After a takeover (`ringcast restart`, replay.h): the events this shard delivered on the
    // channel before a subscriber arrived, for it to receive after its subscription_succeeded.
    [[nodiscard]] std::vector<net::frame_ref> missed_events(std::uint32_t app,
                                                            std::string_view channel) const {
        return replay_.missed(app, channel, io_.now_ms());
    }
    // Has the channel's owner keep `frame` (an event with this data) as a cache channel's last
    // event, even when nobody is subscribed right now.
    void remember_last_event(std::uint32_t app, std::string_view channel, const net::frame_ref& frame,
                             std::string data);

private:
    port& io_;
    const config::server* settings_; // replaced on reload (SIGHUP); every generation outlives the shards
    shared_counters& counters_;
    std::vector<channel_map> channels_; // per app
    std::unordered_map<socket_key, session*> by_socket_;
    socket_id_generator ids_;
    simdjson::dom::parser json_;
    simdjson::dom::parser scratch_json_;
    simdjson::dom::parser user_json_;
    owner_state owned_;
    std::vector<std::uint64_t> connections_; // per app
    std::function<void(query_reply_mail&)> on_query_reply_;
    webhook::sink* webhooks_ = nullptr;
    replay_journal replay_;
    publish_routes routes_;
    metrics stats_;
    console_log console_;

    void append_console_channel(std::uint32_t app, const channel_summary& ch, std::string& out);
    // A first local subscriber: the publishers told "none here" hear otherwise (before its
    // subscription_succeeded is queued).
    void tell_subscribers_again(std::uint32_t app, std::string_view channel);
};

} // namespace ringcast::pusher
