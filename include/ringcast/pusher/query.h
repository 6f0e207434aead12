// Questions the HTTP API asks across shards ("how many subscribers", "which channels", "close
// this user's connections") and their answers. The API's shard sends a query_mail to each shard
// that may know (a channel's owner, or all shards), gathers the query_reply_mails, and answers
// the HTTP request when the last one arrives. Counts are therefore exact across shards.
#pragma once

#include "ringcast/pusher/console.h"
#include "ringcast/pusher/mail.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringcast::pusher {

enum class query_kind : std::uint8_t {
    channels,       // summaries of the named channels this shard owns
    channel_list,   // summaries of every occupied channel this shard owns (optionally by prefix)
    members,        // presence member ids of the named channel
    connections,    // WebSocket connections of the app on this shard
    terminate_user, // close the connections signed in as the named user
    console,        // the debug console's poll: events since `since`, connections, owned channels
};

struct channel_summary {
    std::string name;
    std::uint32_t subscriptions = 0;
    std::uint32_t users = 0;
    bool has_cache = false;
    std::string cache_data;
    std::uint32_t cache_ttl_s = 0;
};

struct query_mail final : mail {
    void deliver(context& at) override;
    // In a cluster the channel questions go to the bridge, which asks Redis.
    void to_bridge(bridge_handler& b) override;
    std::uint64_t id = 0;
    unsigned reply_to = 0;
    query_kind kind = query_kind::channels;
    std::uint32_t app = 0;
    std::vector<std::string> names; // channels, or the user id for terminate_user
    std::string prefix;             // channel_list filter
    std::uint64_t since = 0;        // console: the cursor this shard gave last time
};

struct query_reply_mail final : mail {
    void deliver(context& at) override;
    // The bridge asks the shards too (terminate_user, the console across nodes).
    void to_bridge(bridge_handler& b) override;
    std::uint64_t id = 0;
    std::vector<channel_summary> channels;
    std::vector<std::string> users;
    std::uint64_t count = 0;
    // The Redis bridge's answer to a shared publish or a rate check: refused (error says why,
    // status is the HTTP status to answer with; 0 means 503).
    bool failed = false;
    std::string error;
    int status = 0;
    std::unique_ptr<console_part> console; // the answer to a console poll
};

} // namespace ringcast::pusher
