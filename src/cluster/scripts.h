// The Lua scripts that keep the cluster's shared state in Redis. Each runs atomically in Redis,
// so a transition that several nodes could race for (a user's first connection anywhere, a
// channel's last subscriber anywhere, a dead node's reaping) is decided by exactly one script
// call, and the announcement it makes (a PUBLISH on {prefix}:broadcast) is ordered with every
// other broadcast. The key layout is in the README ("Scaling over Redis").
//
// Every script takes ARGV[1] = prefix, ARGV[2] = this node's id, ARGV[3] = the webhook
// de-bounce in ms (-1: no app has webhooks, so nothing is recorded for them), then its own
// arguments. The webhook events they decide ("kind\napp\nchannel\nuser"; kinds: o occupied, v
// vacated, a member added, r member removed, n subscription count (user = the count)) go, as
// "rch <event>", to the pub/sub channel of the node that sends that app's webhooks. Scripts
// return a list of events for the caller's log: "d\nnode\n\n" for each node reaped.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace ringcast::cluster {

struct script {
    std::string_view name;
    std::string text; // the shared prelude + the body
    std::string sha;  // what EVALSHA names it by (SHA-1 of text)
};

struct scripts {
    scripts();
    // ARGV 4..: app, channel, user, user_info, except socket, max members, token.
    // Publishes "rcj <token> ok\n<member list>" or "rcj <token> full\n" on {prefix}:node:{id}; a
    // member list is "<#id> <#info>\n<id><info>" for each member, sorted by id.
    script join;
    // ARGV 4..: app, channel, user.
    script leave;
    // ARGV 4..: app, channel, this node's count, announce (1: publish the new total).
    script count;
    // ARGV 4..: lease ms. Renews the lease, reaps nodes whose lease ran out, sends held webhooks
    // that are due. Returns {lost, {events}}: lost = 1 when Redis did not know this node (its
    // share must be rebuilt).
    script tick;
    // ARGV 4..: lease ms, then three sections, each a count n and n entries: (app, channel,
    // count), (app, channel, user, info), (app, user): this node's subscriber counts, presence
    // members and signed-in users, replacing what Redis had of its share.
    script restore;
    // ARGV 4..: app, user, 1 (its first connection here) or 0 (its last went).
    script user;
    // ARGV 4..: app, "reads" or "events", amount, limit. Takes `amount` from the app's allowance
    // of the current second (Redis's clock) and returns 1, or takes nothing and returns 0.
    script rate;
    // ARGV 4..: (app, channel) pairs. Publishes "rcv <#app> <#channel>\n<app><channel><member
    // list>" for each on {prefix}:node:{id}, behind every member event announced before it.
    script members;
    // ARGV 4..: (app, connections here) pairs.
    script connections;
    // ARGV 4..: app, max_connections. Counts one more connection of this node's when the app's
    // connections in the cluster are under the limit, and returns 1; else 0.
    script admit;
    // This node leaves the cluster (a clean stop): its share goes at once, as a dead node's would.
    script retire;
    // ARGV 4..: app, channel, miss flag ttl ms. Returns {stored value or "", 1 if a new miss}.
    script cache_get;
    // ARGV 4..: app, channels... Returns {subscriptions, users, cached value or "", its ttl ms}
    // for each channel, one after the other.
    script channel;
    // ARGV 4..: app, prefix. Returns {name, subscriptions, users, ...} of occupied channels.
    script channels;

    // Every one of them, for SCRIPT LOAD.
    [[nodiscard]] std::array<const script*, 14> all() const {
        return {&join,    &leave,       &count, &tick,   &restore,   &user,    &rate,
                &members, &connections, &admit, &retire, &cache_get, &channel, &channels};
    }
};

} // namespace ringcast::cluster
