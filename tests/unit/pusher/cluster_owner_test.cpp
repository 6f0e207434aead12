// The owner shards in a cluster, over fake shards and a fake bridge: they hand the node-level
// changes to the bridge (a user's first connection on the node, its last, the node's count of a
// channel's subscribers, who signs in and out), announce nothing themselves while Redis decides,
// answer a watchlist for the node alone when the bridge hands the question back (Redis down),
// and list the node's share when the bridge rebuilds it.
#include "fake_shards.h"

#include "ringcast/pusher/cluster_mail.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

using namespace ringcast;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

const std::string room = "presence-room";

std::string member(const std::string& id) {
    return R"({"user_id":")" + id + R"(","user_info":{"name":")" + id + R"("}})";
}

struct node : ::testing::Test {
    node() { cluster.attach_bridge(); }

    // The bridge's mail of kind T, taken out of its inbox (others stay).
    template <class T> std::vector<std::unique_ptr<T>> take() {
        std::vector<std::unique_ptr<T>> out;
        auto& inbox = cluster.bridge_mail();
        for (auto it = inbox.begin(); it != inbox.end();) {
            if (auto* m = dynamic_cast<T*>(it->get())) {
                (void)it->release();
                out.emplace_back(m);
                it = inbox.erase(it);
            } else {
                ++it;
            }
        }
        return out;
    }

    fake_cluster cluster{2};
    unsigned owner = cluster.context(0).owner_of(0, room);
    unsigned other = 1 - owner;
};

} // namespace

TEST_F(node, a_join_goes_to_the_bridge_first_on_the_node_or_not_and_nobody_is_answered_here) {
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u1"));
    cluster.deliver_all();

    auto joins = take<pusher::node_presence_mail>();
    ASSERT_EQ(joins.size(), 2u);
    EXPECT_TRUE(joins[0]->join);
    EXPECT_EQ(joins[0]->user_id, "u1");
    EXPECT_EQ(joins[0]->owner, owner);
    EXPECT_NE(joins[0]->first_on_node, joins[1]->first_on_node) << "one of the two is the node's first";
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 0u) << "the member list comes from Redis";
    EXPECT_EQ(b.count("pusher_internal:member_added"), 0u) << "Redis decides member_added";
}

TEST_F(node, a_leave_goes_to_the_bridge_only_with_the_nodes_last_connection_of_the_user) {
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u1"));
    cluster.deliver_all();
    for (auto& j : take<pusher::node_presence_mail>()) {
        auto joined = std::make_unique<pusher::presence_joined_mail>();
        joined->app = j->app;
        joined->channel = j->channel;
        joined->socket = j->socket;
        joined->user_id = j->user_id;
        joined->presence_data = R"({"presence":{"ids":["u1"],"hash":{"u1":null},"count":1}})";
        cluster.from_bridge(j->joiner, std::move(joined));
    }
    cluster.deliver_all();
    ASSERT_EQ(a.count("pusher_internal:subscription_succeeded"), 1u);

    a.unsubscribe(room);
    cluster.deliver_all();
    EXPECT_TRUE(take<pusher::node_presence_mail>().empty()) << "u1 still has a connection on this node";
    b.disconnect();
    cluster.deliver_all();
    auto leaves = take<pusher::node_presence_mail>();
    ASSERT_EQ(leaves.size(), 1u);
    EXPECT_FALSE(leaves[0]->join);
    EXPECT_EQ(leaves[0]->user_id, "u1");
}

TEST_F(node, the_nodes_subscriber_count_goes_to_the_bridge_and_no_count_is_published_here) {
    cluster.app().subscription_count = true;
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe("news");
    b.subscribe("news");
    cluster.deliver_all();

    auto counts = take<pusher::node_count_mail>();
    ASSERT_EQ(counts.size(), 2u);
    EXPECT_EQ(counts.back()->channel, "news");
    EXPECT_EQ(counts.back()->count, 2u) << "the node's total, not a delta";
    EXPECT_EQ(a.count("pusher_internal:subscription_count"), 0u) << "the cluster's total comes from Redis";
    b.unsubscribe("news");
    cluster.deliver_all();
    counts = take<pusher::node_count_mail>();
    ASSERT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts[0]->count, 1u);
}

TEST_F(node, a_subscription_is_answered_once_the_cluster_counts_it_then_a_cache_channel_asks_the_bridge) {
    fake_client a = *cluster.connect(other);
    a.subscribe("cache-news");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 0u) << "not before Redis counts it";
    auto counts = take<pusher::node_count_mail>();
    ASSERT_EQ(counts.size(), 1u);
    ASSERT_EQ(counts[0]->acks.size(), 1u);
    EXPECT_EQ(counts[0]->acks[0].first, other);
    auto subscribed = std::make_unique<pusher::subscribed_mail>();
    subscribed->channel = "cache-news";
    subscribed->socket = counts[0]->acks[0].second;
    cluster.from_bridge(other, std::move(subscribed));
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 1u);
    auto gets = take<pusher::cache_get_mail>();
    ASSERT_EQ(gets.size(), 1u);
    EXPECT_EQ(gets[0]->channel, "cache-news");
    EXPECT_EQ(gets[0]->reply_to, other);
}

TEST_F(node, signing_in_and_out_goes_to_the_bridge_once_per_node_and_watchers_hear_what_it_says) {
    fake_client watcher = *cluster.connect(owner);
    watcher.signin(R"({"id":"w","watchlist":["u1"]})");
    cluster.deliver_all();
    auto asks = take<pusher::watch_query_mail>();
    ASSERT_EQ(asks.size(), 1u) << "a watchlist's first status comes from Redis";
    EXPECT_EQ(asks[0]->user_ids, std::vector<std::string>{"u1"});
    // Redis cannot answer: the owner answers for the node.
    cluster.from_bridge(asks[0]->owner, std::make_unique<pusher::watch_query_mail>(*asks[0]));
    cluster.deliver_all();
    EXPECT_EQ(watcher.count("pusher_internal:watchlist_events"), 1u);

    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.signin(R"({"id":"u1"})");
    b.signin(R"({"id":"u1"})");
    cluster.deliver_all();
    auto statuses = take<pusher::user_status_mail>();
    ASSERT_EQ(statuses.size(), 2u) << "w and u1 came online on this node";
    EXPECT_EQ(watcher.count("pusher_internal:watchlist_events"), 1u) << "the cluster says when u1 is online";
    auto online = std::make_unique<pusher::user_status_mail>();
    online->user_id = "u1";
    cluster.from_bridge(cluster.context(0).user_owner_of(0, "u1"), std::move(online));
    cluster.deliver_all();
    EXPECT_EQ(watcher.count("pusher_internal:watchlist_events"), 2u);
    // The same news twice (the first status crossed the announcement): told once.
    online = std::make_unique<pusher::user_status_mail>();
    online->user_id = "u1";
    cluster.from_bridge(cluster.context(0).user_owner_of(0, "u1"), std::move(online));
    cluster.deliver_all();
    EXPECT_EQ(watcher.count("pusher_internal:watchlist_events"), 2u);
}

TEST_F(node, the_dump_lists_the_nodes_counts_members_and_signed_in_users) {
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe("news");
    b.subscribe(room, member("u2"));
    a.signin(R"({"id":"s1"})");
    cluster.deliver_all();
    (void)take<pusher::node_presence_mail>();
    for (unsigned s = 0; s < cluster.shards(); ++s) {
        auto ask = std::make_unique<pusher::node_dump_request_mail>();
        ask->generation = 7;
        cluster.from_bridge(s, std::move(ask));
    }
    cluster.deliver_all();
    auto dumps = take<pusher::node_dump_mail>();
    ASSERT_EQ(dumps.size(), 2u);
    std::vector<std::string> seen;
    for (const auto& d : dumps) {
        EXPECT_EQ(d->generation, 7u);
        for (const auto& c : d->counts) {
            seen.push_back("count " + c.channel + " " + std::to_string(c.subscriptions));
        }
        for (const auto& m : d->members) {
            seen.push_back("member " + m.channel + " " + m.user_id);
        }
        for (const auto& [app, user] : d->users) {
            seen.push_back("user " + user);
        }
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<std::string>{"count news 1", "member presence-room u2", "user s1"}));
}
