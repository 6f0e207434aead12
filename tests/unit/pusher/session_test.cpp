// One Pusher session over fake shards: the authorized-connections timeout, liveness (server
// pings, 4201), client events, pusher:signin and server-to-user channels, watchlists, Reverb's
// message rate limit, and malformed messages.
#include "fake_shards.h"

#include "ringcast/core/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using ringcast::config::client_events_from;
using ringcast::testing::client_text_frame;
using ringcast::testing::fake_client;
using ringcast::testing::fake_cluster;

namespace {

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The "code" of a pusher:error text: "4009", "null", or "" when there is none.
std::string code_of(const std::string& error) {
    auto at = error.find("\"code\":");
    if (at == std::string::npos) {
        return {};
    }
    at += 7;
    auto end = error.find_first_of(",}", at);
    return error.substr(at, end - at);
}

// The codes of every pusher:error the client got, in order.
std::vector<std::string> error_codes(const fake_client& c) {
    std::vector<std::string> out;
    for (const auto& e : c.events("pusher:error")) {
        out.push_back(code_of(e));
    }
    return out;
}

// A message as it comes off the socket (a masked text frame), so that it counts for liveness
// as the real shard's reads do; say() hands the text to the dispatcher directly.
void send_frame(fake_client& c, std::string_view json) {
    c.feed(client_text_frame(json));
}

std::string member(const std::string& id) {
    return R"({"user_id":")" + id + R"(","user_info":{"name":")" + id + R"("}})";
}

std::string whisper(const std::string& channel, const std::string& event = "client-typing",
                    const std::string& data = R"({"typing":true})") {
    return R"({"event":")" + event + R"(","channel":")" + channel + R"(","data":)" + data + "}";
}

// A cluster of two shards with one client on each.
struct two_clients : ::testing::Test {
    fake_cluster cluster{2};
    fake_client a = *cluster.connect(0);
    fake_client b = *cluster.connect(1);
};

} // namespace

// ---------------------------------------------------------------------------------------------
// Authorized connections (app.authorized_connections_timeout_s)

TEST(authorized_connections, a_connection_that_neither_signs_in_nor_joins_is_closed_with_4009) {
    fake_cluster cluster(2);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(1);
    cluster.advance(4999);
    EXPECT_FALSE(c.closed());
    cluster.advance(1);
    ASSERT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 4009);
    EXPECT_EQ(error_codes(c), (std::vector<std::string>{"4009"}));
}

TEST(authorized_connections, a_public_or_cache_subscription_does_not_authorize) {
    fake_cluster cluster(2);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(0);
    c.subscribe("news");
    c.subscribe("cache-news");
    cluster.deliver_all();
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 2u);
    cluster.advance(5000);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 4009);
}

TEST(authorized_connections, signing_in_in_time_keeps_the_connection) {
    fake_cluster cluster(2);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(0);
    cluster.advance(4000);
    c.signin(R"({"id":"u1"})");
    cluster.deliver_all();
    cluster.advance(20000);
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

TEST(authorized_connections, a_private_subscription_in_time_keeps_the_connection) {
    fake_cluster cluster(2);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(1);
    cluster.advance(3000);
    c.subscribe("private-orders");
    cluster.deliver_all();
    cluster.advance(20000);
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

TEST(authorized_connections, a_presence_join_in_time_keeps_the_connection) {
    fake_cluster cluster(2);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(0);
    fake_client d = *cluster.connect(1);
    c.subscribe("presence-room", member("u1"));
    d.subscribe("presence-room", member("u2"));
    cluster.deliver_all(); // the owner's answers
    cluster.advance(20000);
    EXPECT_FALSE(c.closed());
    EXPECT_FALSE(d.closed());
}

TEST(authorized_connections, a_refused_private_subscription_does_not_authorize) {
    fake_cluster cluster(1);
    cluster.app().authorized_connections_timeout_s = 5;
    fake_client c = *cluster.connect(0);
    c.say(R"({"event":"pusher:subscribe","data":{"channel":"private-orders","auth":"app-key:00"}})");
    EXPECT_EQ(c.count("pusher:subscription_error"), 1u);
    cluster.advance(5000);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 4009);
}

TEST(authorized_connections, off_by_default) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    cluster.advance(59000); // under ping_interval, so liveness does not interfere
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Liveness: pusher:ping after ping_interval_s of client silence, 4201 after pong_timeout_s more

struct liveness : ::testing::Test {
    fake_cluster cluster{1};
    fake_client c = [this] {
        cluster.app().ping_interval_s = 10;
        cluster.app().pong_timeout_s = 5;
        return *cluster.connect(0);
    }();
};

TEST_F(liveness, silence_brings_a_server_ping_then_an_unanswered_ping_closes_with_4201) {
    cluster.advance(9999);
    EXPECT_EQ(c.count("pusher:ping"), 0u);
    cluster.advance(1);
    EXPECT_EQ(c.count("pusher:ping"), 1u);
    EXPECT_FALSE(c.closed());
    cluster.advance(4999);
    EXPECT_FALSE(c.closed());
    cluster.advance(1);
    ASSERT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 4201);
    EXPECT_EQ(error_codes(c), (std::vector<std::string>{"4201"}));
    EXPECT_EQ(c.count("pusher:ping"), 1u);
}

TEST_F(liveness, a_pong_keeps_the_connection_and_the_next_ping_follows_more_silence) {
    cluster.advance(10000);
    ASSERT_EQ(c.count("pusher:ping"), 1u);
    cluster.advance(3000);
    send_frame(c, R"({"event":"pusher:pong","data":{}})");
    cluster.advance(5000); // past the pong timeout of the first ping
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(c.count("pusher:ping"), 1u);
    cluster.advance(5000); // ping_interval after the pong
    EXPECT_EQ(c.count("pusher:ping"), 2u);
    EXPECT_FALSE(c.closed());
}

TEST_F(liveness, any_message_resets_the_silence_clock) {
    cluster.advance(8000);
    send_frame(c, R"({"event":"pusher:subscribe","data":{"channel":"news"}})");
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 1u);
    cluster.advance(9999);
    EXPECT_EQ(c.count("pusher:ping"), 0u);
    cluster.advance(1);
    EXPECT_EQ(c.count("pusher:ping"), 1u);
    // Even a message the server refuses proves the client alive.
    send_frame(c, "not json");
    cluster.advance(9000);
    EXPECT_FALSE(c.closed());
}

TEST_F(liveness, a_websocket_ping_counts_as_an_answer) {
    cluster.advance(10000);
    ASSERT_EQ(c.count("pusher:ping"), 1u);
    const char ping_frame[] = {'\x89', '\x80', '\x01', '\x02', '\x03', '\x04'}; // masked, empty
    c.feed(std::string_view(ping_frame, sizeof ping_frame));
    cluster.advance(5000);
    EXPECT_FALSE(c.closed());
}

TEST_F(liveness, a_client_ping_gets_a_pong) {
    send_frame(c, R"({"event":"pusher:ping","data":{}})");
    EXPECT_EQ(c.count("pusher:pong"), 1u);
    c.say(R"({"event":"pusher:ping"})");
    EXPECT_EQ(c.count("pusher:pong"), 2u);
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Client events

TEST_F(two_clients, a_client_event_reaches_members_on_other_shards_and_is_not_echoed) {
    fake_client a2 = *cluster.connect(0);
    a.subscribe("private-chat");
    a2.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(a.count("client-typing"), 0u) << "not echoed to the sender";
    ASSERT_EQ(b.count("client-typing"), 1u);
    EXPECT_EQ(a2.count("client-typing"), 1u);
    std::string got = b.last("client-typing");
    EXPECT_TRUE(has(got, R"("channel":"private-chat")")) << got;
    EXPECT_TRUE(has(got, R"("data":{"typing":true})")) << got;
    EXPECT_FALSE(has(got, "user_id")) << "no user_id outside presence channels: " << got;
    EXPECT_EQ(a.count("pusher:error"), 0u);
}

TEST_F(two_clients, a_client_event_keeps_string_data_as_a_string) {
    a.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    a.say(whisper("private-chat", "client-msg", R"("{\"x\":1}")"));
    cluster.deliver_all();
    EXPECT_TRUE(has(b.last("client-msg"), R"("data":"{\"x\":1}")")) << b.last("client-msg");
}

TEST_F(two_clients, a_client_event_on_a_presence_channel_carries_the_senders_user_id) {
    a.subscribe("presence-room", member("alice"));
    b.subscribe("presence-room", member("bob"));
    cluster.deliver_all();
    b.clear();
    a.say(whisper("presence-room"));
    cluster.deliver_all();
    std::string got = b.last("client-typing");
    EXPECT_TRUE(has(got, R"("user_id":"alice")")) << got;
    EXPECT_EQ(a.count("client-typing"), 0u);
}

TEST_F(two_clients, a_client_event_on_a_public_channel_is_refused) {
    a.subscribe("news");
    b.subscribe("news");
    cluster.deliver_all();
    a.say(whisper("news"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 0u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"null"}));
    EXPECT_FALSE(a.closed());
    a.say(whisper("cache-news"));
    EXPECT_EQ(a.count("pusher:error"), 2u);
}

TEST_F(two_clients, a_client_event_on_an_encrypted_channel_is_refused) {
    a.subscribe("private-encrypted-vault");
    b.subscribe("private-encrypted-vault");
    cluster.deliver_all();
    ASSERT_EQ(a.count("pusher_internal:subscription_succeeded"), 1u);
    a.say(whisper("private-encrypted-vault"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 0u);
    ASSERT_EQ(error_codes(a), (std::vector<std::string>{"null"}));
    EXPECT_TRUE(has(a.last("pusher:error"), "encrypted")) << a.last("pusher:error");
    EXPECT_FALSE(a.closed());
}

TEST_F(two_clients, with_members_the_sender_must_be_subscribed) {
    b.subscribe("private-chat");
    cluster.deliver_all();
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 0u);
    EXPECT_TRUE(has(a.last("pusher:error"), "not subscribed")) << a.last("pusher:error");
    EXPECT_EQ(code_of(a.last("pusher:error")), "null");
    // Nor does a presence join still waiting for the owner's answer count.
    cluster.hold(cluster.context(0).owner_of(0, "presence-room"), 0);
    a.subscribe("presence-room", member("alice"));
    cluster.deliver_all();
    a.say(whisper("presence-room"));
    EXPECT_EQ(a.count("pusher:error"), 2u);
    cluster.hold(cluster.context(0).owner_of(0, "presence-room"), 0, false);
    cluster.deliver_all();
}

TEST_F(two_clients, with_all_a_sender_need_not_be_subscribed) {
    cluster.app().accept_client_events_from = client_events_from::all;
    b.subscribe("private-chat");
    cluster.deliver_all();
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 1u);
    EXPECT_EQ(a.count("pusher:error"), 0u);
    a.say(whisper("news")); // still only private and presence channels
    EXPECT_EQ(a.count("pusher:error"), 1u);
}

TEST_F(two_clients, with_none_client_events_are_refused_with_4301) {
    cluster.app().accept_client_events_from = client_events_from::none;
    a.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 0u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4301"}));
    EXPECT_FALSE(a.closed());
}

TEST_F(two_clients, client_events_over_the_per_second_limit_get_4301_until_the_window_passes) {
    cluster.app().max_client_events_per_second = 3;
    a.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    for (int i = 0; i < 5; ++i) {
        a.say(whisper("private-chat"));
    }
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 3u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4301", "4301"}));
    EXPECT_FALSE(a.closed());
    cluster.advance(999);
    a.say(whisper("private-chat"));
    EXPECT_EQ(a.count("pusher:error"), 3u) << "still the same window";
    cluster.advance(1);
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 4u);
    EXPECT_EQ(a.count("pusher:error"), 3u);
}

TEST_F(two_clients, refused_client_events_do_not_use_up_the_rate) {
    cluster.app().max_client_events_per_second = 2;
    a.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    for (int i = 0; i < 5; ++i) {
        a.say(whisper("news"));
    }
    a.say(whisper("private-chat"));
    a.say(whisper("private-chat"));
    cluster.deliver_all();
    EXPECT_EQ(b.count("client-typing"), 2u);
    for (const auto& c : error_codes(a)) {
        EXPECT_EQ(c, "null");
    }
}

TEST_F(two_clients, a_client_event_name_over_the_limit_is_refused) {
    cluster.app().max_event_name_length = 20;
    a.subscribe("private-chat");
    b.subscribe("private-chat");
    cluster.deliver_all();
    std::string at_limit = "client-" + std::string(13, 'x');
    std::string over = at_limit + "x";
    a.say(whisper("private-chat", over));
    a.say(whisper("private-chat", at_limit));
    cluster.deliver_all();
    EXPECT_EQ(b.count(over), 0u);
    EXPECT_EQ(b.count(at_limit), 1u);
    ASSERT_EQ(error_codes(a), (std::vector<std::string>{"null"}));
    EXPECT_TRUE(has(a.last("pusher:error"), "21")) << a.last("pusher:error");
}

TEST_F(two_clients, a_client_event_without_a_channel_is_refused) {
    a.say(R"({"event":"client-typing","data":{}})");
    a.say(R"({"event":"client-typing","channel":7,"data":{}})");
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"null", "null"}));
    EXPECT_FALSE(a.closed());
}

// ---------------------------------------------------------------------------------------------
// pusher:signin and #server-to-user-{id}

TEST_F(two_clients, signin_answers_signin_success_with_the_user_data) {
    std::string user = R"({"id":"u1","user_info":{"name":"Ann"}})";
    a.signin(user);
    std::string ok = a.last("pusher:signin_success");
    ASSERT_FALSE(ok.empty()) << a.texts().back();
    EXPECT_TRUE(has(ok, R"("user_data":"{\"id\":\"u1\",\"user_info\":{\"name\":\"Ann\"}}")")) << ok;
    EXPECT_FALSE(a.closed());
    EXPECT_EQ(a.session()->user_id(), "u1");
    // The same identity again is fine.
    a.signin(user);
    EXPECT_EQ(a.count("pusher:signin_success"), 2u);
    EXPECT_FALSE(a.closed());
}

TEST_F(two_clients, a_bad_signin_signature_closes_with_4009) {
    a.say(R"({"event":"pusher:signin","data":{"auth":"app-key:0123","user_data":"{\"id\":\"u1\"}"}})");
    EXPECT_EQ(a.count("pusher:signin_success"), 0u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4009"}));
    EXPECT_TRUE(a.closed());
    EXPECT_EQ(a.close_code(), 4009);
}

TEST_F(two_clients, a_signin_with_the_wrong_key_or_without_an_id_closes_with_4009) {
    b.say(R"({"event":"pusher:signin","data":{"auth":"other-key:0123","user_data":"{\"id\":\"u1\"}"}})");
    EXPECT_EQ(b.close_code(), 4009);
    a.signin(R"({"name":"no id"})"); // signed correctly, but user_data has no id
    EXPECT_EQ(a.count("pusher:signin_success"), 0u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4009"}));
    EXPECT_EQ(a.close_code(), 4009);
}

TEST_F(two_clients, a_second_identity_on_one_connection_is_refused_with_4009) {
    a.signin(R"({"id":"u1"})");
    ASSERT_EQ(a.count("pusher:signin_success"), 1u);
    a.signin(R"({"id":"u2"})");
    EXPECT_EQ(a.count("pusher:signin_success"), 1u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4009"}));
    EXPECT_TRUE(has(a.last("pusher:error"), "u1")) << a.last("pusher:error");
    EXPECT_TRUE(a.closed());
    EXPECT_EQ(a.close_code(), 4009);
}

TEST_F(two_clients, the_server_to_user_channel_is_only_for_the_signed_in_user) {
    a.subscribe("#server-to-user-u1"); // not signed in
    EXPECT_TRUE(has(a.last("pusher:subscription_error"), "AuthError")) << a.texts().back();
    a.signin(R"({"id":"u1"})");
    a.say(R"({"event":"pusher:subscribe","data":{"auth":"","channel":"#server-to-user-u1"}})");
    EXPECT_EQ(a.count("pusher_internal:subscription_succeeded"), 1u);
    b.signin(R"({"id":"u2"})");
    b.subscribe("#server-to-user-u1");
    EXPECT_EQ(b.count("pusher_internal:subscription_succeeded"), 0u);
    std::string refusal = b.last("pusher:subscription_error");
    EXPECT_TRUE(has(refusal, "AuthError")) << refusal;
    EXPECT_TRUE(has(refusal, "403")) << refusal;
    EXPECT_FALSE(b.closed());
    // Client events are not a way in either.
    b.say(whisper("#server-to-user-u1"));
    cluster.deliver_all();
    EXPECT_EQ(a.count("client-typing"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Watchlists

namespace {
std::size_t watch(const fake_client& c, const std::string& name, const std::string& user) {
    std::size_t n = 0;
    for (const auto& t : c.events("pusher_internal:watchlist_events")) {
        n += has(t, R"({"name":")" + name + R"(","user_ids":[)") &&
             has(t.substr(t.find(R"("name":")" + name)), "\"" + user + "\"");
    }
    return n;
}
} // namespace

TEST(watchlist, a_watcher_hears_when_a_watched_user_comes_and_goes_on_another_shard) {
    fake_cluster cluster(3);
    fake_client a = *cluster.connect(0);
    a.signin(R"({"id":"a","watchlist":["b"]})");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher:signin_success"), 1u);
    EXPECT_EQ(watch(a, "offline", "b"), 1u) << "the initial status";
    EXPECT_EQ(watch(a, "online", "b"), 0u);

    fake_client b1 = *cluster.connect(1);
    fake_client b2 = *cluster.connect(2);
    b1.signin(R"({"id":"b"})");
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "online", "b"), 1u);
    b2.signin(R"({"id":"b"})");
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "online", "b"), 1u) << "b was already online";

    b1.disconnect();
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "offline", "b"), 1u) << "b is still online on another connection";
    b2.disconnect();
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "offline", "b"), 2u);
    EXPECT_EQ(b1.count("pusher_internal:watchlist_events"), 0u);
}

TEST(watchlist, the_initial_status_says_who_is_online_already) {
    fake_cluster cluster(2);
    fake_client b = *cluster.connect(1);
    b.signin(R"({"id":"b"})");
    cluster.deliver_all();
    fake_client a = *cluster.connect(0);
    a.signin(R"({"id":"a","watchlist":["b","c"]})");
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "online", "b"), 1u);
    EXPECT_EQ(watch(a, "offline", "c"), 1u);
}

TEST(watchlist, a_watcher_that_left_is_not_told_and_its_watch_is_dropped) {
    fake_cluster cluster(2);
    fake_client a = *cluster.connect(0);
    a.signin(R"({"id":"a","watchlist":["b"]})");
    cluster.deliver_all();
    a.disconnect();
    cluster.deliver_all();
    fake_client b = *cluster.connect(1);
    b.signin(R"({"id":"b"})");
    cluster.deliver_all();
    EXPECT_EQ(cluster.queued(), 0u);
    // A new connection of a sees b online once, from its own initial status.
    fake_client again = *cluster.connect(0);
    again.signin(R"({"id":"a","watchlist":["b"]})");
    cluster.deliver_all();
    EXPECT_EQ(again.count("pusher_internal:watchlist_events"), 1u);
    EXPECT_EQ(watch(again, "online", "b"), 1u);
}

TEST(watchlist, ids_over_the_limit_are_dropped_with_4302_and_the_signin_succeeds) {
    fake_cluster cluster(2);
    cluster.app().watchlist_limit = 2;
    fake_client a = *cluster.connect(0);
    a.signin(R"({"id":"a","watchlist":["b","c","d"]})");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher:signin_success"), 1u);
    EXPECT_EQ(error_codes(a), (std::vector<std::string>{"4302"}));
    EXPECT_FALSE(a.closed());
    EXPECT_EQ(watch(a, "offline", "b") + watch(a, "offline", "c"), 2u);
    EXPECT_EQ(watch(a, "offline", "d"), 0u);
    fake_client d = *cluster.connect(1);
    d.signin(R"({"id":"d"})");
    fake_client c = *cluster.connect(1);
    c.signin(R"({"id":"c"})");
    cluster.deliver_all();
    EXPECT_EQ(watch(a, "online", "d"), 0u) << "d was over the limit";
    EXPECT_EQ(watch(a, "online", "c"), 1u);
}

TEST(watchlist, exactly_the_limit_is_accepted_without_an_error) {
    fake_cluster cluster(1);
    cluster.app().watchlist_limit = 2;
    fake_client a = *cluster.connect(0);
    a.signin(R"({"id":"a","watchlist":["b","c"]})");
    cluster.deliver_all();
    EXPECT_EQ(a.count("pusher:error"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Reverb's rate limiting (every inbound message)

TEST(rate_limiting, messages_over_the_limit_get_4301_and_the_window_resets) {
    fake_cluster cluster(1);
    cluster.app().rate_limiting_enabled = true;
    cluster.app().rate_limit_max_attempts = 3;
    cluster.app().rate_limit_decay_s = 10;
    fake_client c = *cluster.connect(0);
    for (int i = 0; i < 4; ++i) {
        c.say(R"({"event":"pusher:ping"})");
    }
    EXPECT_EQ(c.count("pusher:pong"), 3u);
    EXPECT_EQ(error_codes(c), (std::vector<std::string>{"4301"}));
    EXPECT_FALSE(c.closed());
    c.subscribe("news"); // refused too while the window lasts
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 0u);
    cluster.advance(10000);
    c.subscribe("news");
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_EQ(c.count("pusher:error"), 2u);
}

TEST(rate_limiting, with_terminate_the_connection_is_closed_with_4301) {
    fake_cluster cluster(1);
    cluster.app().rate_limiting_enabled = true;
    cluster.app().rate_limit_max_attempts = 2;
    cluster.app().rate_limit_terminate = true;
    fake_client c = *cluster.connect(0);
    c.say(R"({"event":"pusher:ping"})");
    c.say(R"({"event":"pusher:ping"})");
    EXPECT_FALSE(c.closed());
    c.say(R"({"event":"pusher:ping"})");
    EXPECT_EQ(c.count("pusher:pong"), 2u);
    EXPECT_EQ(error_codes(c), (std::vector<std::string>{"4301"}));
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 4301);
}

TEST(rate_limiting, off_by_default) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    for (int i = 0; i < 200; ++i) {
        c.say(R"({"event":"pusher:ping"})");
    }
    EXPECT_EQ(c.count("pusher:pong"), 200u);
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Malformed messages: pusher:error with code null, the connection stays usable

namespace {
// `bad` gets one pusher:error with code null and the connection still subscribes afterwards.
void expect_refused_but_usable(fake_client& c, std::string_view bad) {
    c.clear();
    c.say(bad);
    EXPECT_FALSE(c.closed()) << bad;
    ASSERT_EQ(c.texts().size(), 1u) << bad;
    EXPECT_TRUE(has(c.texts()[0], R"("event":"pusher:error")")) << bad << " -> " << c.texts()[0];
    EXPECT_EQ(code_of(c.texts()[0]), "null") << bad << " -> " << c.texts()[0];
    c.unsubscribe("news");
    c.subscribe("news");
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 1u) << "after " << bad;
}
} // namespace

TEST(malformed, messages_that_are_not_json_objects) {
    fake_cluster cluster(2);
    fake_client c = *cluster.connect(1);
    for (std::string_view bad : {"not json", "", "{", R"({"event":"pusher:ping")", "[1,2]", R"("text")", "42",
                                 "null", "{\"event\":\"pusher:ping\"}garbage"}) {
        expect_refused_but_usable(c, bad);
    }
}

TEST(malformed, messages_without_an_event_string) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    for (std::string_view bad : {"{}", R"({"data":{"channel":"news"}})", R"({"event":5})",
                                 R"({"event":null})", R"({"event":["pusher:ping"]})"}) {
        expect_refused_but_usable(c, bad);
    }
}

TEST(malformed, data_of_the_wrong_type) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    for (std::string_view bad : {
             R"({"event":"pusher:subscribe"})",
             R"({"event":"pusher:subscribe","data":5})",
             R"({"event":"pusher:subscribe","data":null})",
             R"({"event":"pusher:subscribe","data":[]})",
             R"({"event":"pusher:subscribe","data":"not json"})",
             R"({"event":"pusher:subscribe","data":"[\"news\"]"})",
             R"({"event":"pusher:subscribe","data":{}})",
             R"({"event":"pusher:subscribe","data":{"channel":5}})",
             R"({"event":"pusher:subscribe","data":{"channel":null}})",
             R"({"event":"pusher:unsubscribe"})",
             R"({"event":"pusher:unsubscribe","data":true})",
             R"({"event":"pusher:unsubscribe","data":{"channel":{}}})",
             R"({"event":"pusher:nonsense","data":{}})",
         }) {
        expect_refused_but_usable(c, bad);
    }
}

TEST(malformed, a_subscribe_with_data_as_a_json_string_works) {
    // pusher-websocket-java sends data JSON-encoded; Reverb accepts it, and so do we.
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    c.say(R"({"event":"pusher:subscribe","data":"{\"channel\":\"news\"}"})");
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_TRUE(has(c.last("pusher_internal:subscription_succeeded"), R"("channel":"news")"));
}

TEST(malformed, a_presence_subscribe_with_data_as_a_json_string_joins_the_right_channel) {
    fake_cluster cluster(2);
    fake_client c = *cluster.connect(0);
    std::string channel = "presence-room";
    std::string data = member("u1");
    std::string inner =
        R"({"channel":")" + channel + R"(","auth":")" + c.auth(channel, data) + R"(","channel_data":)";
    ringcast::core::append_json_string(inner, data);
    inner += "}";
    std::string msg = R"({"event":"pusher:subscribe","data":)";
    ringcast::core::append_json_string(msg, inner);
    msg += "}";
    c.say(msg);
    cluster.deliver_all();
    std::string ok = c.last("pusher_internal:subscription_succeeded");
    EXPECT_TRUE(has(ok, R"("channel":"presence-room")")) << (ok.empty() ? c.texts().back() : ok);
}

TEST(malformed, a_message_over_max_message_size_closes_with_1009) {
    fake_cluster cluster(1);
    cluster.app().max_message_size = 100;
    fake_client c = *cluster.connect(0);
    std::string at_limit = R"({"event":"pusher:ping","data":")";
    at_limit += std::string(100 - at_limit.size() - 2, 'x') + "\"}";
    ASSERT_EQ(at_limit.size(), 100u);
    c.feed(client_text_frame(at_limit));
    EXPECT_EQ(c.count("pusher:pong"), 1u);
    EXPECT_FALSE(c.closed());
    std::string over = R"({"event":"pusher:ping","data":")" + std::string(68, 'x') + "\"}";
    ASSERT_EQ(over.size(), 101u);
    c.feed(client_text_frame(over));
    EXPECT_EQ(c.count("pusher:pong"), 1u);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 1009);
}

TEST(malformed, a_message_split_over_several_reads_is_one_message) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    std::string frame = client_text_frame(R"({"event":"pusher:subscribe","data":{"channel":"news"}})");
    for (char ch : frame) {
        c.feed(std::string_view(&ch, 1));
    }
    EXPECT_EQ(c.count("pusher_internal:subscription_succeeded"), 1u);
    EXPECT_EQ(c.count("pusher:error"), 0u);
}

// ---------------------------------------------------------------------------------------------
// The fake shards themselves: a mail handler that publishes (the owner sending a count) does
// not deliver the mail queued behind it first, as the real shard's drain_mail is not re-entrant.

TEST(fake_shards, counts_from_an_owner_reach_subscribers_in_order) {
    fake_cluster cluster(3);
    cluster.app().subscription_count = true;
    std::vector<fake_client> clients;
    for (unsigned i = 0; i < 3; ++i) {
        clients.push_back(*cluster.connect(i));
        clients.back().subscribe("news");
    }
    cluster.deliver_all();
    for (auto& c : clients) {
        std::vector<std::string> counts = c.events("pusher_internal:subscription_count");
        ASSERT_FALSE(counts.empty());
        EXPECT_TRUE(has(counts.back(), R"(\"subscription_count\":3)")) << counts.back();
    }
}

namespace {
// A client frame that is not the last of its message (FIN clear).
std::string unfinished_frame(std::string_view text, bool continuation) {
    std::string f = client_text_frame(text);
    f[0] = static_cast<char>(continuation ? 0x00 : 0x01);
    return f;
}
} // namespace

TEST(malformed, a_fragmented_message_left_unfinished_closes_with_1008_after_30_s) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    c.feed(unfinished_frame(R"({"event":)", false));
    // A frame now and then keeps the connection alive, but not the message open for ever.
    for (int i = 0; i < 5; ++i) {
        cluster.advance(5000);
        c.feed(unfinished_frame(" ", true));
    }
    EXPECT_FALSE(c.closed());
    cluster.advance(6000);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(c.close_code(), 1008);
}

TEST(malformed, a_fragmented_message_finished_in_time_is_delivered_and_the_clock_starts_again) {
    fake_cluster cluster(1);
    fake_client c = *cluster.connect(0);
    for (int round = 0; round < 3; ++round) {
        c.feed(unfinished_frame(R"({"event":"pusher:)", false));
        cluster.advance(20000);
        std::string last = client_text_frame(R"(ping","data":{}})");
        last[0] = static_cast<char>(0x80); // FIN, continuation
        c.feed(last);
    }
    EXPECT_FALSE(c.closed());
    EXPECT_EQ(c.count("pusher:pong"), 3u);
}
