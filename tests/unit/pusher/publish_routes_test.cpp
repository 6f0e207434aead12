// Publishes leave out shards that said they have no subscriber of the channel (publish_routes.h),
// and a subscriber arriving there still gets every event published after its
// subscription_succeeded, whatever order the queues between shards deliver in.
#include "fake_shards.h"

#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/publish_routes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using ringcast::pusher::channel_event;
using ringcast::pusher::publish_routes;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

void publish(fake_cluster& c, unsigned shard, const std::string& channel, const std::string& data) {
    c.context(shard).publish(0, channel, channel_event("e", channel, data), 0);
}

bool got(const fake_client& c, const std::string& data) {
    for (const auto& t : c.events("e")) {
        if (t.find("\"" + data + "\"") != std::string::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

TEST(publish_routes, a_shard_without_subscribers_is_woken_once_per_channel) {
    fake_cluster cluster(2);
    fake_client a = *cluster.connect(0);
    a.subscribe("pair");
    cluster.deliver_all();
    publish(cluster, 0, "pair", "1");
    EXPECT_EQ(cluster.queued(0, 1), 1u); // not known yet
    cluster.deliver_all();               // shard 1 answers: none here
    for (int i = 2; i < 10; ++i) {
        publish(cluster, 0, "pair", std::to_string(i));
        EXPECT_EQ(cluster.queued(0, 1), 0u);
        cluster.deliver_all();
    }
    EXPECT_EQ(a.count("e"), 9u);
    publish(cluster, 0, "other", "x"); // another channel is not skipped
    EXPECT_EQ(cluster.queued(0, 1), 1u);
}

TEST(publish_routes, a_new_subscriber_gets_what_is_published_after_its_subscription_succeeded) {
    fake_cluster cluster(2);
    publish(cluster, 0, "pair", "before");
    cluster.deliver_all();
    fake_client b = *cluster.connect(1);
    b.subscribe("pair"); // succeeded at once (public); shard 0 has not heard yet
    ASSERT_EQ(b.count("pusher_internal:subscription_succeeded"), 1u);
    publish(cluster, 0, "pair", "after"); // drains its mail first
    cluster.deliver_all();
    EXPECT_TRUE(got(b, "after"));
    EXPECT_FALSE(got(b, "before"));
}

// Subscribers come and go on every shard while every shard publishes, with the queues between
// shards delivered in random orders that keep each pair FIFO. Whoever was subscribed (its
// subscription_succeeded seen) when an event was published receives it, exactly once.
// (Mail is delivered before each unsubscribe: events in flight to a leaving subscriber are
// allowed either way.)
TEST(publish_routes, churn_in_random_orders_loses_and_duplicates_nothing) {
    constexpr unsigned shards = 3;
    fake_cluster cluster(shards);
    std::mt19937 rng(7);
    std::vector<fake_client> clients;
    for (unsigned i = 0; i < 12; ++i) {
        clients.push_back(*cluster.connect(i % shards));
    }
    std::vector<std::vector<std::string>> expected(clients.size());
    std::vector<std::string> channel_of(clients.size());
    for (int round = 0; round < 400; ++round) {
        auto who = rng() % clients.size();
        std::string ch = "c" + std::to_string(rng() % 4);
        if (rng() % 3 == 0) {
            if (channel_of[who].empty()) {
                clients[who].subscribe(ch);
                channel_of[who] = ch;
            } else {
                // Events still queued when a subscriber leaves may or may not reach it (as in
                // any server): let them arrive first, so every expectation is exact.
                cluster.deliver_shuffled(static_cast<std::uint32_t>(round) + 1000);
                clients[who].unsubscribe(channel_of[who]);
                channel_of[who].clear();
            }
        } else {
            std::string data = "d" + std::to_string(round);
            publish(cluster, static_cast<unsigned>(rng() % shards), ch, data);
            for (std::size_t i = 0; i < clients.size(); ++i) {
                if (channel_of[i] == ch) {
                    expected[i].push_back(data);
                }
            }
        }
        if (rng() % 4 == 0) {
            cluster.deliver_shuffled(static_cast<std::uint32_t>(round));
        }
    }
    cluster.deliver_shuffled(1);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        auto events = clients[i].events("e");
        for (const auto& data : expected[i]) {
            std::size_t n = 0;
            for (const auto& t : events) {
                n += t.find("\"" + data + "\"") != std::string::npos ? 1 : 0;
            }
            EXPECT_EQ(n, 1u) << "client " << i << " event " << data;
        }
    }
}

TEST(publish_routes, a_full_table_makes_every_publisher_forget_and_nothing_is_lost) {
    fake_cluster cluster(2);
    for (std::size_t i = 0; i <= publish_routes::max_entries; ++i) {
        publish(cluster, 0, "empty-" + std::to_string(i), "x");
        cluster.deliver_all();
    }
    // The last answer came after a reset: shard 0 skips only what was said since.
    EXPECT_EQ(cluster.context(0).routes().skipped(0, "empty-0"), 0u);
    EXPECT_NE(cluster.context(0).routes().skipped(0, "empty-" + std::to_string(publish_routes::max_entries)),
              0u);
    fake_client b = *cluster.connect(1);
    b.subscribe("empty-0");
    b.subscribe("empty-" + std::to_string(publish_routes::max_entries));
    publish(cluster, 0, "empty-0", "a");
    publish(cluster, 0, "empty-" + std::to_string(publish_routes::max_entries), "b");
    cluster.deliver_all();
    EXPECT_TRUE(got(b, "a"));
    EXPECT_TRUE(got(b, "b"));
}

TEST(publish_routes, forgetting_one_shard_keeps_the_others_skips) {
    publish_routes r;
    r.skip(0, "c", 1);
    r.skip(0, "c", 2);
    r.skip(1, "c", 2);
    EXPECT_EQ(r.skipped(0, "c"), 0b110u);
    r.forget_skips(2);
    EXPECT_EQ(r.skipped(0, "c"), 0b10u);
    EXPECT_EQ(r.skipped(1, "c"), 0u);
    r.unskip(0, "c", 1);
    EXPECT_EQ(r.skipped(0, "c"), 0u);
    EXPECT_EQ(r.skipped(7, "c"), 0u); // an app never seen
    EXPECT_TRUE(r.disclaim(0, "c", 3));
    EXPECT_EQ(r.take_disclaims(0, "c"), 0b1000u);
    EXPECT_EQ(r.take_disclaims(0, "c"), 0u);
}

// A presence member's shard joins the channel locally only when the owner's reply arrives; the
// owner's next member_added must not skip it while its "subscribers again" is still queued.
TEST(publish_routes, a_joining_presence_member_gets_the_next_member_added) {
    fake_cluster cluster(3);
    std::string room;
    for (int i = 0; room.empty(); ++i) {
        std::string name = "presence-room-" + std::to_string(i);
        if (cluster.context(0).owner_of(0, name) == 0) {
            room = name;
        }
    }
    fake_client x = *cluster.connect(2);
    x.subscribe(room, R"({"user_id":"x"})");
    cluster.deliver_all(); // member_added(x) reached shard 1, which said: none here
    ASSERT_NE(cluster.context(0).routes().skipped(0, room) & 0b10u, 0u);
    fake_client m = *cluster.connect(1);
    m.subscribe(room, R"({"user_id":"m"})");
    ASSERT_TRUE(cluster.deliver_one(1, 0)); // the join reaches the owner
    cluster.hold(1, 0);                     // shard 1's "subscribers again" waits
    cluster.deliver_all();
    ASSERT_EQ(m.count("pusher_internal:subscription_succeeded"), 1u);
    fake_client n = *cluster.connect(2);
    n.subscribe(room, R"({"user_id":"n"})");
    cluster.deliver_all();
    auto added = m.events("pusher_internal:member_added");
    ASSERT_EQ(added.size(), 1u);
    EXPECT_NE(added[0].find("\\\"n\\\""), std::string::npos) << added[0];
    cluster.hold(1, 0, false);
    cluster.deliver_all();
}
