// The webhook events the Pusher layer emits, over fake shards whose mail is delivered in
// adversarial orders: each occupancy and membership change once for the whole server, in the
// order that makes sense per channel, and client events with their sender.
#include "fake_shards.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

using ringcast::config::webhook_kind;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

const std::string room = "presence-room";

std::string member(const std::string& id) {
    return R"({"user_id":")" + id + R"("})";
}

// Every event as "name channel [user]" (client events also "event data socket").
class recording_sink final : public ringcast::webhook::sink {
public:
    void emit(ringcast::webhook::event ev) override {
        std::string line = std::string(ringcast::config::webhook_kind_name(ev.kind)) + ' ' + ev.channel;
        if (!ev.user_id.empty()) {
            line += " user=" + ev.user_id;
        }
        if (ev.kind == webhook_kind::client_event) {
            line += " " + ev.name + " " + ev.data + " " + ev.socket_id;
        }
        if (ev.kind == webhook_kind::subscription_count) {
            line += " " + std::to_string(ev.subscription_count);
        }
        lines.push_back(line);
    }
    std::vector<std::string> lines;
};

ringcast::config::server with_webhooks() {
    ringcast::config::server s;
    ringcast::config::app a;
    a.id = "app-id";
    a.key = "app-key";
    a.secret = "app-secret";
    a.accept_client_events_from = ringcast::config::client_events_from::members;
    ringcast::config::webhook_target t;
    t.url = "http://127.0.0.1/hook";
    t.event_types = (1U << ringcast::config::webhook_kind_count) - 1;
    a.webhooks.push_back(t);
    s.apps.push_back(a);
    return s;
}

struct cluster_with_sink {
    fake_cluster cluster;
    recording_sink sink;
    explicit cluster_with_sink(unsigned shards) : cluster(shards, with_webhooks()) {
        for (unsigned i = 0; i < shards; ++i) {
            cluster.context(i).set_webhooks(&sink);
        }
    }
};

} // namespace

TEST(webhook_events, one_user_on_two_shards_is_one_occupied_one_added_then_one_removed_one_vacated) {
    for (std::uint32_t seed = 1; seed <= 20; ++seed) {
        cluster_with_sink c(2);
        fake_client a = *c.cluster.connect(0);
        fake_client b = *c.cluster.connect(1);
        a.subscribe(room, member("u1"));
        b.subscribe(room, member("u1"));
        c.cluster.deliver_shuffled(seed);
        a.disconnect();
        b.unsubscribe(room);
        c.cluster.deliver_shuffled(seed + 100);
        EXPECT_EQ(c.sink.lines, (std::vector<std::string>{
                                    "channel_occupied " + room, "member_added " + room + " user=u1",
                                    "member_removed " + room + " user=u1", "channel_vacated " + room}))
            << "seed " << seed;
    }
}

TEST(webhook_events, a_public_channel_is_occupied_by_its_first_subscriber_and_vacated_by_its_last) {
    cluster_with_sink c(2);
    fake_client a = *c.cluster.connect(0);
    fake_client b = *c.cluster.connect(1);
    a.subscribe("news");
    b.subscribe("news");
    c.cluster.deliver_all();
    a.unsubscribe("news");
    c.cluster.deliver_all();
    b.disconnect();
    c.cluster.deliver_all();
    EXPECT_EQ(c.sink.lines, (std::vector<std::string>{"channel_occupied news", "subscription_count news 1",
                                                      "subscription_count news 2",
                                                      "subscription_count news 1", "channel_vacated news"}));
}

TEST(webhook_events, an_empty_cache_channel_reports_one_miss_however_many_subscribe) {
    cluster_with_sink c(2);
    fake_client a = *c.cluster.connect(0);
    fake_client b = *c.cluster.connect(1);
    fake_client d = *c.cluster.connect(1);
    a.subscribe("cache-quotes");
    b.subscribe("cache-quotes");
    d.subscribe("cache-quotes");
    c.cluster.deliver_all();
    std::size_t misses = 0;
    for (const std::string& l : c.sink.lines) {
        misses += l == "cache_miss cache-quotes";
    }
    EXPECT_EQ(misses, 1U);
}

TEST(webhook_events, a_client_event_carries_its_sender_and_on_presence_its_user) {
    cluster_with_sink c(2);
    fake_client a = *c.cluster.connect(0);
    fake_client b = *c.cluster.connect(1);
    a.subscribe(room, member("u1"));
    b.subscribe(room, member("u2"));
    a.subscribe("private-chat");
    c.cluster.deliver_all();
    c.sink.lines.clear();
    a.say(R"({"event":"client-typing","channel":")" + room + R"(","data":{"x":1}})");
    a.say(R"({"event":"client-typing","channel":"private-chat","data":"plain"})");
    c.cluster.deliver_all();
    EXPECT_EQ(c.sink.lines, (std::vector<std::string>{
                                "client_event " + room + " user=u1 client-typing {\"x\":1} " + a.socket_id(),
                                "client_event private-chat client-typing plain " + a.socket_id()}));
}

TEST(webhook_events, nothing_is_built_for_an_app_without_targets) {
    fake_cluster cluster(1);
    recording_sink sink;
    cluster.context(0).set_webhooks(&sink);
    fake_client a = *cluster.connect(0);
    a.subscribe("news");
    cluster.deliver_all();
    EXPECT_TRUE(sink.lines.empty());
}
