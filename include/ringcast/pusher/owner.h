// The authoritative cross-shard state of the channels and users this shard owns (by hash):
// total subscriber counts, presence members with a connection count per user, the last event
// of cache channels, and which signed-in users are online and who watches them.
//
// Only the owning shard's thread touches it; everyone else sends mail (mail.h). Member changes
// are broadcast from here, so all shards see them in one order; for the same reason the
// occupancy, membership and cache-miss webhooks are emitted here, once for the whole server, in
// the order the changes happen (a channel is occupied while it has a subscriber or a member, so
// channel_occupied precedes its first member_added and channel_vacated follows the last
// member_removed).
//
// In a cluster (a Redis bridge, cluster_mail.h) the owner keeps the node's share of that state
// and hands its node-level changes to the bridge, which decides the cluster-level ones in Redis;
// member events, occupancy webhooks and subscription counts then come from there, once for the
// cluster, and cache channels and the HTTP API's questions are answered from Redis.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/net/frame.h"
#include "ringcast/pusher/cluster_mail.h"
#include "ringcast/pusher/mail.h"
#include "ringcast/pusher/query.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ringcast::pusher {

class context;

class owner_state {
public:
    explicit owner_state(context& ctx) : ctx_(ctx) {}

    void on_subscription_delta(const subscription_delta_mail& m);
    void on_presence_join(const presence_join_mail& m);
    void on_presence_leave(const presence_leave_mail& m);
    void on_cache_set(const cache_set_mail& m);
    void on_cache_get(const cache_get_mail& m);
    void on_user_presence(const user_presence_mail& m);
    void on_watch(const watch_mail& m);
    // Cluster: a watched user came online or went offline (in the cluster, or on this node
    // while Redis is down).
    void on_user_status(const user_status_mail& m);
    // Cluster: Redis could not say who is online; answer from this node's users.
    void on_watch_query(const watch_query_mail& m);
    // Cluster: the bridge rebuilds this node's share of the shared state.
    void on_dump_request(const node_dump_request_mail& m);
    // Once a second: throttled subscription counts, expired cache entries.
    void on_tick(std::uint64_t now_ms);

    // HTTP API queries about owned channels.
    [[nodiscard]] channel_summary summarize(std::uint32_t app, const std::string& channel);
    // `internal`: with the '#server-to-user-' channels (the debug console shows them; the API does not).
    void list(std::uint32_t app, std::string_view prefix, std::vector<channel_summary>& out,
              bool internal = false);
    void member_ids(std::uint32_t app, const std::string& channel, std::vector<std::string>& out);

private:
    struct member {
        std::string info; // user_info as JSON text
        std::uint32_t connections = 0;
    };
    struct channel_state {
        std::uint32_t subscriptions = 0;
        std::map<std::string, member, std::less<>> members; // presence only, ordered for stable ids
        net::frame_ref cached;
        std::string cached_data; // the event's data, for GET .../channels/{name}?info=cache
        std::uint64_t cache_expires_ms = 0;
        std::uint64_t cached_ns = 0; // when the cached event was published
        bool count_dirty = false;
        std::uint64_t count_sent_ms = 0;
        bool occupied = false;      // as last reported to webhooks
        bool miss_reported = false; // a cache_miss webhook went out since the last cached event
    };
    struct user_state {
        std::uint32_t connections = 0;
        std::vector<std::pair<unsigned, socket_key>> watchers; // (shard, socket)
    };

    static std::string key(std::uint32_t app, std::string_view name);
    static std::pair<std::uint32_t, std::string> split_key(const std::string& k);
    [[nodiscard]] bool clustered() const noexcept;
    void to_bridge(std::unique_ptr<mail> m);
    void announce_added(std::uint32_t app, const std::string& channel, const std::string& user_id,
                        const std::string& user_info, socket_key except);
    void announce_removed(std::uint32_t app, const std::string& channel, const std::string& user_id);
    channel_state* find(std::uint32_t app, std::string_view channel);
    void forget_if_idle(std::uint32_t app, const std::string& channel);
    void send_count(std::uint32_t app, const std::string& channel, channel_state& st);
    [[nodiscard]] bool counts_wanted(std::uint32_t app, std::string_view channel) const;
    void report_occupancy(std::uint32_t app, const std::string& channel, channel_state& st);
    void report(config::webhook_kind kind, std::uint32_t app, const std::string& channel,
                std::string_view user_id = {});
    std::string presence_data(const channel_state& st) const;
    void notify_watchers(std::uint32_t app, const std::string& user_id, const user_state& u, bool online);

    context& ctx_;
    std::unordered_map<std::string, channel_state> channels_;
    std::unordered_map<std::string, user_state> users_;
};

} // namespace ringcast::pusher
