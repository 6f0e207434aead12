// The debug console's view of the shards (pusher/console.h): the bounded log (what a poll takes,
// what a slow page loses, cut data), and what sessions record over fake shards while a console
// watches — and that nothing is recorded while none does.
#include "fake_shards.h"

#include "ringcast/pusher/console.h"
#include "ringcast/pusher/query.h"

#include <gtest/gtest.h>

#include <string>

using ringcast::pusher::console_event;
using ringcast::pusher::console_kind;
using ringcast::pusher::console_log;
using ringcast::pusher::console_part;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++n;
    }
    return n;
}

console_event api_event(std::uint32_t app, const std::string& name) {
    return {.kind = console_kind::api_event, .app = app, .channel = "chat", .name = name, .data = "{}"};
}

console_part poll(fake_cluster& cluster, unsigned shard, std::uint64_t since = 0) {
    ringcast::pusher::query_mail q;
    q.kind = ringcast::pusher::query_kind::console;
    q.since = since;
    console_part out;
    cluster.context(shard).answer_console(q, out);
    return out;
}

} // namespace

TEST(console_log, a_new_console_starts_from_now) {
    console_log log;
    log.record(api_event(0, "old"));
    console_part p;
    log.take(0, console_log::from_now, p);
    EXPECT_EQ(p.cursor, 1u);
    EXPECT_EQ(p.events, "");
    log.record(api_event(0, "new"));
    console_part next;
    log.take(0, p.cursor, next);
    EXPECT_TRUE(has(next.events, R"("event":"new")"));
    EXPECT_FALSE(has(next.events, "old"));
    EXPECT_EQ(next.cursor, 2u);
}

TEST(console_log, other_apps_events_are_skipped) {
    console_log log;
    log.record(api_event(1, "theirs"));
    log.record(api_event(0, "ours"));
    console_part p;
    log.take(0, 0, p);
    EXPECT_TRUE(has(p.events, "ours"));
    EXPECT_FALSE(has(p.events, "theirs"));
    EXPECT_EQ(p.cursor, 2u);
}

TEST(console_log, a_page_that_falls_behind_loses_the_oldest_and_is_told_how_many) {
    console_log log;
    for (std::size_t i = 0; i < console_log::capacity + 10; ++i) {
        log.record(api_event(0, "e" + std::to_string(i)));
    }
    console_part p;
    log.take(0, 0, p);
    EXPECT_EQ(p.dropped, 10u);
    EXPECT_FALSE(has(p.events, R"("event":"e9")"));
    EXPECT_TRUE(has(p.events, R"("event":"e10")"));
    // One poll takes a bounded number; the rest wait for the next.
    EXPECT_EQ(occurrences(p.events, "\"kind\""), console_log::max_per_poll);
    EXPECT_EQ(p.cursor, 10 + console_log::max_per_poll);
}

TEST(console_log, long_data_is_cut_on_a_character_boundary) {
    std::string data(console_log::max_data - 1, 'x');
    data += "\xc3\xa9\xc3\xa9"; // é é: the cut falls inside the first one
    EXPECT_TRUE(console_log::cut(data));
    EXPECT_EQ(data.size(), console_log::max_data - 1);
    std::string shortdata = "short";
    EXPECT_FALSE(console_log::cut(shortdata));
}

TEST(console_log, origins_are_interned_and_bounded) {
    console_log log;
    EXPECT_EQ(log.intern_origin(""), 0);
    std::uint16_t a = log.intern_origin("https://app.test");
    EXPECT_EQ(log.intern_origin("https://app.test"), a);
    EXPECT_EQ(log.origin(a), "https://app.test");
    for (int i = 0; i < 5000; ++i) {
        (void)log.intern_origin("https://" + std::to_string(i) + ".test");
    }
    EXPECT_EQ(log.origin(log.intern_origin("https://late.test")), "(not recorded: too many origins)");
}

TEST(console_view, nothing_is_recorded_while_no_console_watches) {
    fake_cluster cluster(2);
    fake_client c = *cluster.connect(1);
    c.subscribe("chat");
    cluster.deliver_all();
    EXPECT_EQ(poll(cluster, 1).events, "");
}

TEST(console_view, a_watched_app_shows_connects_subscriptions_auth_failures_and_closes) {
    fake_cluster cluster(2);
    cluster.context(0).counters().app(0).console_watchers = 1;
    fake_client c = *cluster.connect(1);
    c.subscribe("chat");
    c.say(R"({"event":"pusher:subscribe","data":{"channel":"private-a","auth":")" + cluster.app().key +
          R"(:0000"}})");
    cluster.deliver_all();

    console_part now = poll(cluster, 1);
    const std::string& ev = now.events;
    EXPECT_TRUE(has(ev, R"("kind":"connected","socket_id":")" + c.socket_id())) << ev;
    EXPECT_TRUE(has(ev, R"("kind":"subscribed","socket_id":")" + c.socket_id() + R"(","channel":"chat")"));
    EXPECT_TRUE(has(ev, R"("kind":"auth_failed")"));
    EXPECT_TRUE(has(ev, R"("signed":")" + c.socket_id() + ":private-a\"")) << ev;
    EXPECT_EQ(now.connection_count, 1u);
    EXPECT_TRUE(has(now.connections, R"("channels":["chat"],"shard":1)")) << now.connections;

    // The channel is listed by its owner shard, with its type and count.
    unsigned owner = cluster.context(0).owner_of(0, "chat");
    EXPECT_TRUE(has(poll(cluster, owner).channels, R"({"name":"chat","type":"public","subscriptions":1})"));

    c.say(R"({"event":"pusher:unsubscribe","data":{"channel":"chat"}})");
    c.disconnect();
    cluster.deliver_all();
    console_part later = poll(cluster, 1, now.cursor);
    EXPECT_TRUE(has(later.events, R"("kind":"unsubscribed")"));
    EXPECT_TRUE(has(later.events, R"("kind":"disconnected")")) << later.events;
    EXPECT_FALSE(has(later.events, R"("kind":"connected")")); // already taken
}

TEST(console_view, presence_channels_list_their_members) {
    fake_cluster cluster(2);
    cluster.context(0).counters().app(0).console_watchers = 1;
    fake_client c = *cluster.connect(0);
    c.subscribe("presence-room", R"({"user_id":"7","user_info":{}})");
    cluster.deliver_all();
    unsigned owner = cluster.context(0).owner_of(0, "presence-room");
    EXPECT_TRUE(has(poll(cluster, owner).channels, R"("type":"presence","subscriptions":1,"members":["7"])"))
        << poll(cluster, owner).channels;
}
