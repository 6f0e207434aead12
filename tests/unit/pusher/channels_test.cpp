// Channel state kept by owner shards, seen from clients on every shard: delivery, subscriber
// counts, subscription_count events and their throttle, cache channels, channel queries, and
// terminate_connections.
#include "fake_shards.h"

#include "ringcast/net/frame.h"
#include "ringcast/pusher/messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using ringcast::pusher::channel_event;
using ringcast::pusher::query_kind;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

// What POST /events does on the shard that took the request (api::publish).
void publish(fake_cluster& c, unsigned shard, const std::string& channel, const std::string& data) {
    auto frame = channel_event("news", channel, data);
    if (channel.find("cache-") != std::string::npos) {
        c.context(shard).remember_last_event(0, channel, frame, data);
    }
    c.context(shard).publish(0, channel, frame, 0);
}

std::uint32_t subscriptions(fake_cluster& c, const std::string& channel) {
    auto r = c.ask(0, query_kind::channels, 0, {channel}, false);
    return r.channels.empty() ? 0 : r.channels[0].subscriptions;
}

} // namespace

TEST(channels, a_publish_reaches_subscribers_on_every_shard_once_and_in_order) {
    fake_cluster cluster(3);
    std::vector<fake_client> subs;
    for (unsigned s = 0; s < 3; ++s) {
        subs.push_back(*cluster.connect(s));
        subs.back().subscribe("news");
    }
    cluster.deliver_all();
    for (int i = 0; i < 5; ++i) {
        publish(cluster, static_cast<unsigned>(i % 3), "news", "e" + std::to_string(i));
        cluster.deliver_shuffled(static_cast<std::uint32_t>(i));
    }
    for (const fake_client& c : subs) {
        auto got = c.events("news");
        ASSERT_EQ(got.size(), 5u);
        for (int i = 0; i < 5; ++i) {
            EXPECT_NE(got[static_cast<size_t>(i)].find("\"e" + std::to_string(i) + "\""), std::string::npos);
        }
    }
}

TEST(channels, the_owner_counts_subscribers_of_every_shard) {
    fake_cluster cluster(2);
    fake_client a = *cluster.connect(0);
    fake_client b = *cluster.connect(1);
    fake_client c = *cluster.connect(1);
    a.subscribe("news");
    b.subscribe("news");
    c.subscribe("news");
    c.subscribe("news"); // a second subscribe is answered again but not counted
    cluster.deliver_all();
    EXPECT_EQ(subscriptions(cluster, "news"), 3u);
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 2u);

    b.unsubscribe("news");
    c.disconnect();
    cluster.deliver_all();
    EXPECT_EQ(subscriptions(cluster, "news"), 1u);

    auto list = cluster.ask(1, query_kind::channel_list, 0, {}, true);
    ASSERT_EQ(list.channels.size(), 1u);
    EXPECT_EQ(list.channels[0].name, "news");
    a.disconnect();
    cluster.deliver_all();
    EXPECT_TRUE(cluster.ask(1, query_kind::channel_list, 0, {}, true).channels.empty());
}

TEST(channels, connections_are_counted_per_shard_and_summed) {
    fake_cluster cluster(3);
    std::vector<fake_client> clients;
    for (int i = 0; i < 7; ++i) {
        clients.push_back(*cluster.connect(static_cast<unsigned>(i % 3)));
    }
    EXPECT_EQ(cluster.ask(0, query_kind::connections, 0, {}, true).count, 7u);
    clients[2].disconnect();
    EXPECT_EQ(cluster.ask(0, query_kind::connections, 0, {}, true).count, 6u);
}

TEST(channels, max_connections_holds_across_shards) {
    fake_cluster cluster(2);
    cluster.app().max_connections = 2;
    auto a = cluster.connect(0);
    auto b = cluster.connect(1);
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(cluster.connect(0).has_value());
    b->disconnect();
    EXPECT_TRUE(cluster.connect(0).has_value());
}

TEST(subscription_count, every_change_is_sent_to_subscribers_on_every_shard) {
    fake_cluster cluster(2);
    cluster.app().subscription_count = true;
    fake_client a = *cluster.connect(0);
    fake_client b = *cluster.connect(1);
    a.subscribe("news");
    cluster.deliver_all();
    b.subscribe("news");
    cluster.deliver_all();
    std::string last = a.last("pusher_internal:subscription_count");
    EXPECT_NE(last.find("subscription_count\\\":2"), std::string::npos) << last;
    EXPECT_NE(b.last("pusher_internal:subscription_count").find("subscription_count\\\":2"),
              std::string::npos);
    b.unsubscribe("news");
    cluster.deliver_all();
    EXPECT_NE(a.last("pusher_internal:subscription_count").find("subscription_count\\\":1"),
              std::string::npos);
}

TEST(subscription_count, is_not_sent_when_the_app_does_not_ask_nor_on_presence_channels) {
    fake_cluster cluster(2);
    fake_client a = *cluster.connect(0);
    a.subscribe("news");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher_internal:subscription_count"), 0u);

    cluster.app().subscription_count = true;
    a.subscribe("presence-room", R"({"user_id":"1"})");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher_internal:subscription_count"), 0u);
}

TEST(subscription_count, over_100_subscribers_counts_go_out_at_most_every_5_seconds) {
    fake_cluster cluster(2);
    cluster.app().subscription_count = true;
    std::vector<fake_client> subs;
    for (int i = 0; i < 101; ++i) {
        subs.push_back(*cluster.connect(static_cast<unsigned>(i % 2)));
        subs.back().subscribe("big");
        cluster.deliver_all();
    }
    fake_client& watcher = subs[0];
    watcher.clear();
    // The 102nd..110th subscribers within the throttle window: no count yet...
    for (int i = 0; i < 9; ++i) {
        subs.push_back(*cluster.connect(1));
        subs.back().subscribe("big");
    }
    cluster.deliver_all();
    EXPECT_LE(watcher.count("pusher_internal:subscription_count"), 1u);
    // ...then one with the final number, once the window has passed.
    cluster.advance(6000);
    cluster.deliver_all();
    std::string last = watcher.last("pusher_internal:subscription_count");
    EXPECT_NE(last.find("subscription_count\\\":110"), std::string::npos) << last;
    EXPECT_LE(watcher.count("pusher_internal:subscription_count"), 2u);
}

TEST(cache_channels, a_new_subscriber_gets_the_last_event_or_a_cache_miss) {
    fake_cluster cluster(2);
    fake_client first = *cluster.connect(0);
    first.subscribe("cache-prices");
    cluster.deliver_all();
    EXPECT_EQ(first.count("pusher:cache_miss"), 1u);

    publish(cluster, 1, "cache-prices", "v1");
    publish(cluster, 0, "cache-prices", "v2");
    cluster.deliver_all();
    fake_client later = *cluster.connect(1);
    later.subscribe("cache-prices");
    cluster.deliver_all();
    EXPECT_EQ(later.count("pusher:cache_miss"), 0u);
    ASSERT_EQ(later.count("news"), 1u);
    EXPECT_NE(later.last("news").find("v2"), std::string::npos);
}

TEST(cache_channels, the_last_event_outlives_its_subscribers_until_the_ttl) {
    fake_cluster cluster(2);
    cluster.app().cache_ttl_s = 60;
    publish(cluster, 0, "cache-prices", "v1"); // nobody subscribed: still remembered
    cluster.deliver_all();
    auto summary = cluster.ask(0, query_kind::channels, 0, {"cache-prices"}, false);
    ASSERT_EQ(summary.channels.size(), 1u);
    EXPECT_TRUE(summary.channels[0].has_cache);
    EXPECT_EQ(summary.channels[0].cache_data, "v1");

    fake_client a = *cluster.connect(1);
    a.subscribe("cache-prices");
    cluster.deliver_all();
    EXPECT_EQ(a.count("news"), 1u);
    a.disconnect(); // the channel is vacated
    cluster.deliver_all();
    cluster.advance(30'000);
    fake_client b = *cluster.connect(0);
    b.subscribe("cache-prices");
    cluster.deliver_all();
    EXPECT_EQ(b.count("news"), 1u) << "within the TTL the event survives the channel's vacancy";

    cluster.advance(31'000);
    fake_client c = *cluster.connect(1);
    c.subscribe("cache-prices");
    cluster.deliver_all();
    EXPECT_EQ(c.count("news"), 0u);
    EXPECT_EQ(c.count("pusher:cache_miss"), 1u);
    EXPECT_FALSE(cluster.ask(0, query_kind::channels, 0, {"cache-prices"}, false).channels[0].has_cache);
}

TEST(cache_channels, a_subscriber_that_leaves_before_the_owner_answers_gets_nothing) {
    fake_cluster cluster(2);
    publish(cluster, 0, "cache-prices", "v1");
    cluster.deliver_all();
    unsigned owner = cluster.context(0).owner_of(0, "cache-prices");
    fake_client a = *cluster.connect(1 - owner);
    cluster.hold(owner, 1 - owner);
    a.subscribe("cache-prices");
    cluster.deliver_all();
    a.unsubscribe("cache-prices");
    cluster.hold(owner, 1 - owner, false);
    cluster.deliver_all();
    EXPECT_EQ(a.count("news"), 0u);
    EXPECT_EQ(a.count("pusher:cache_miss"), 0u);
}

TEST(terminate_connections, closes_every_connection_of_the_user_on_every_shard) {
    fake_cluster cluster(3);
    std::vector<fake_client> mine;
    for (unsigned s = 0; s < 3; ++s) {
        mine.push_back(*cluster.connect(s));
        mine.back().signin(R"({"id":"42"})");
    }
    fake_client other = *cluster.connect(1);
    other.signin(R"({"id":"7"})");
    cluster.deliver_all();
    auto r = cluster.ask(2, query_kind::terminate_user, 0, {"42"}, true);
    EXPECT_EQ(r.count, 3u);
    for (const fake_client& c : mine) {
        EXPECT_TRUE(c.closed());
        EXPECT_EQ(c.close_code(), 4009);
        EXPECT_NE(c.last("pusher:error").find("4009"), std::string::npos);
    }
    EXPECT_FALSE(other.closed());
    EXPECT_EQ(cluster.ask(2, query_kind::connections, 0, {}, true).count, 1u);
}

TEST(cache_channels, a_later_event_wins_even_when_the_earlier_one_reaches_the_owner_last) {
    fake_cluster cluster(3);
    unsigned owner = cluster.context(0).owner_of(0, "cache-prices");
    unsigned slow = (owner + 1) % 3, fast = (owner + 2) % 3;
    cluster.hold(slow, owner); // v1's note to the owner is stuck in a slow queue
    publish(cluster, slow, "cache-prices", "v1");
    publish(cluster, fast, "cache-prices", "v2"); // published after v1 was acknowledged
    cluster.deliver_all();
    cluster.hold(slow, owner, false);
    cluster.deliver_all();
    fake_client later = *cluster.connect(owner);
    later.subscribe("cache-prices");
    cluster.deliver_all();
    ASSERT_EQ(later.count("news"), 1u);
    EXPECT_NE(later.last("news").find("v2"), std::string::npos) << later.last("news");
}

TEST(reload, a_reload_that_disables_an_app_closes_its_connections_with_4003_on_every_shard) {
    ringcast::config::server settings;
    ringcast::config::app first, second;
    first.id = "1", first.key = "k1", first.secret = "s1";
    second.id = "2", second.key = "k2", second.secret = "s2";
    settings.apps = {first, second};
    fake_cluster cluster(2, settings);
    fake_client a = *cluster.connect(0, 0);
    fake_client b = *cluster.connect(1, 0);
    fake_client other = *cluster.connect(1, 1);

    ringcast::config::server next = cluster.settings();
    next.apps[0].enabled = false;
    for (unsigned s = 0; s < 2; ++s) {
        ringcast::pusher::reload_mail m; // as the main thread's control mail brings it
        m.settings = &next;
        cluster.context(s).on_mail(m);
    }
    cluster.finish_closes();
    EXPECT_EQ(a.close_code(), 4003);
    EXPECT_EQ(b.close_code(), 4003);
    EXPECT_FALSE(other.closed());
    for (unsigned s = 0; s < 2; ++s) { // back to the cluster's own settings before `next` goes
        ringcast::pusher::reload_mail m;
        m.settings = &cluster.settings();
        cluster.context(s).on_mail(m);
    }
}

TEST(channels, a_connection_may_hold_only_max_subscriptions_per_connection_channels) {
    fake_cluster cluster(2);
    cluster.app().max_subscriptions_per_connection = 3;
    fake_client c = *cluster.connect(0);
    c.subscribe("a");
    c.subscribe("b");
    c.subscribe("presence-room", R"({"user_id":"1"})"); // still waiting for its owner: counts
    c.subscribe("d");
    std::string refusal = c.last("pusher:subscription_error");
    EXPECT_NE(refusal.find("LimitReached"), std::string::npos) << refusal;
    EXPECT_NE(refusal.find("\"channel\":\"d\""), std::string::npos) << refusal;
    cluster.deliver_all();
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 3u);
    c.unsubscribe("a");
    c.subscribe("d");
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 4u);
    EXPECT_FALSE(c.closed());
}
