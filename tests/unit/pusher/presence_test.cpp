// Presence channels across shards: one member per user whatever number of connections on
// whatever shards, joins and leaves that race the owner's answers, member limits.
#include "fake_shards.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

using ringcast::pusher::query_kind;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

const std::string room = "presence-room";

std::string member(const std::string& id) {
    return R"({"user_id":")" + id + R"(","user_info":{"name":")" + id + R"("}})";
}

std::vector<std::string> members(fake_cluster& c) {
    auto r = c.ask(0, query_kind::members, 0, {room}, false);
    std::sort(r.users.begin(), r.users.end());
    return r.users;
}

std::size_t added(const fake_client& c, const std::string& user) {
    std::size_t n = 0;
    for (const auto& t : c.events("pusher_internal:member_added")) {
        n += t.find("\\\"user_id\\\":\\\"" + user + "\\\"") != std::string::npos;
    }
    return n;
}

std::size_t removed(const fake_client& c, const std::string& user) {
    std::size_t n = 0;
    for (const auto& t : c.events("pusher_internal:member_removed")) {
        n += t.find("\\\"user_id\\\":\\\"" + user + "\\\"") != std::string::npos;
    }
    return n;
}

// A cluster of two shards, with the room owned by shard 0 (so "the owner" and "the other
// shard" are both exercised, whichever way the hash falls).
struct two_shards : ::testing::Test {
    fake_cluster cluster{2};
    unsigned owner = cluster.context(0).owner_of(0, room);
    unsigned other = 1 - owner;
};

} // namespace

TEST_F(two_shards, the_same_user_on_two_shards_is_one_member) {
    fake_client watcher = *cluster.connect(owner);
    watcher.subscribe(room, member("w"));
    cluster.deliver_all();
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u1"));
    cluster.deliver_all();

    EXPECT_EQ(added(watcher, "u1"), 1u);
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_EQ(b.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_NE(b.last("pusher_internal:subscription_succeeded").find("\\\"count\\\":2"), std::string::npos)
        << b.last("pusher_internal:subscription_succeeded");
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"u1", "w"}));
}

TEST_F(two_shards, a_member_leaves_with_its_last_connection_and_can_rejoin) {
    fake_client watcher = *cluster.connect(other);
    watcher.subscribe(room, member("w"));
    fake_client a = *cluster.connect(owner);
    fake_client b = *cluster.connect(other);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u1"));
    cluster.deliver_all();

    a.unsubscribe(room);
    cluster.deliver_all();
    EXPECT_EQ(removed(watcher, "u1"), 0u) << "one connection of u1 is still there";
    b.disconnect();
    cluster.deliver_all();
    EXPECT_EQ(removed(watcher, "u1"), 1u);
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"w"}));

    a.subscribe(room, member("u1"));
    cluster.deliver_all();
    EXPECT_EQ(added(watcher, "u1"), 2u);
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"u1", "w"}));
}

TEST_F(two_shards, a_joiner_that_leaves_while_the_owner_answers_is_not_left_behind) {
    fake_client watcher = *cluster.connect(owner);
    watcher.subscribe(room, member("w"));
    cluster.deliver_all();
    fake_client a = *cluster.connect(other);
    cluster.hold(owner, other); // the owner's answer (and broadcasts) to a's shard wait
    a.subscribe(room, member("u1"));
    cluster.deliver_all();
    EXPECT_EQ(added(watcher, "u1"), 1u) << "the owner took the join";
    a.disconnect(); // before the answer arrives
    cluster.hold(owner, other, false);
    cluster.deliver_all();
    EXPECT_EQ(removed(watcher, "u1"), 1u);
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"w"}));
}

TEST_F(two_shards, an_unsubscribe_while_the_owner_answers_undoes_the_join) {
    fake_client watcher = *cluster.connect(owner);
    watcher.subscribe(room, member("w"));
    fake_client a = *cluster.connect(other);
    cluster.deliver_all();
    cluster.hold(owner, other);
    a.subscribe(room, member("u1"));
    cluster.deliver_all();
    a.unsubscribe(room);
    cluster.hold(owner, other, false);
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 0u);
    EXPECT_EQ(removed(watcher, "u1"), 1u);
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"w"}));
}

TEST(presence, any_delivery_order_ends_with_exactly_the_connected_users_as_members) {
    for (std::uint32_t seed = 1; seed <= 40; ++seed) {
        fake_cluster cluster(3);
        std::vector<fake_client> clients;
        for (int i = 0; i < 9; ++i) {
            clients.push_back(*cluster.connect(static_cast<unsigned>(i % 3)));
        }
        for (int i = 0; i < 9; ++i) {
            clients[i].subscribe(room, member("u" + std::to_string(i % 4)));
        }
        // Some leave before, some after their owner has answered; all in a shuffled order.
        clients[0].disconnect();
        cluster.deliver_shuffled(seed);
        clients[4].unsubscribe(room);
        clients[5].disconnect();
        cluster.deliver_shuffled(seed + 1000);
        // Left: 1 (u1), 2 (u2), 3 (u3), 6 (u2), 7 (u3), 8 (u0).
        EXPECT_EQ(members(cluster), (std::vector<std::string>{"u0", "u1", "u2", "u3"})) << "seed " << seed;
        clients[8].disconnect();
        cluster.deliver_shuffled(seed + 2000);
        EXPECT_EQ(members(cluster), (std::vector<std::string>{"u1", "u2", "u3"})) << "seed " << seed;
    }
}

TEST(presence, a_full_channel_refuses_a_new_user_but_not_another_connection_of_a_member) {
    fake_cluster cluster(2);
    cluster.app().max_presence_members = 2;
    fake_client a = *cluster.connect(0);
    fake_client b = *cluster.connect(1);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u2"));
    cluster.deliver_all();
    fake_client c = *cluster.connect(1);
    c.subscribe(room, member("u3"));
    fake_client again = *cluster.connect(0);
    again.subscribe(room, member("u1"));
    cluster.deliver_all();

    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 0u);
    std::string refusal = c.last("pusher:subscription_error");
    EXPECT_NE(refusal.find("LimitReached"), std::string::npos) << refusal;
    EXPECT_NE(refusal.find("403"), std::string::npos) << refusal;
    EXPECT_EQ(again.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_EQ(added(a, "u3"), 0u);
    EXPECT_EQ(members(cluster), (std::vector<std::string>{"u1", "u2"}));
}

TEST(presence, a_bad_signature_or_channel_data_is_refused_before_the_owner_is_asked) {
    fake_cluster cluster(2);
    fake_client a = *cluster.connect(0);
    a.say(R"({"event":"pusher:subscribe","data":{"channel":"presence-room","auth":"app-key:00",)"
          R"("channel_data":"{\"user_id\":\"u1\"}"}})");
    EXPECT_NE(a.last("pusher:subscription_error").find("AuthError"), std::string::npos);
    a.subscribe(room, R"({"user_info":{}})"); // signed, but no user_id
    EXPECT_NE(a.last("pusher:subscription_error").find("InvalidChannelData"), std::string::npos)
        << a.texts().back();
    EXPECT_EQ(cluster.queued(), 0u);
}
