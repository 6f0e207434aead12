#include "ringcast/pusher/messages.h"

#include <gtest/gtest.h>

using namespace ringcast::pusher;

TEST(messages, connection_established_double_encodes_data) {
    EXPECT_EQ(
        payload_of(*connection_established("1.2", 30)),
        R"({"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":30}"})");
}

TEST(messages, error_uses_an_object_and_null_code_when_unnumbered) {
    EXPECT_EQ(payload_of(*error(4001, "nope")),
              R"({"event":"pusher:error","data":{"code":4001,"message":"nope"}})");
    EXPECT_EQ(payload_of(*error(std::nullopt, "bad \"x\"")),
              R"({"event":"pusher:error","data":{"code":null,"message":"bad \"x\""}})");
}

TEST(messages, channel_event_escapes_data_as_a_json_string) {
    EXPECT_EQ(payload_of(*channel_event("my-event", "ch", "{\"a\":\"\xc3\xa9\\n\"}")),
              R"({"event":"my-event","channel":"ch","data":"{\"a\":\"é\\n\"}"})");
}

TEST(messages, subscription_replies_name_the_channel) {
    EXPECT_EQ(payload_of(*subscription_succeeded("ch")),
              R"({"event":"pusher_internal:subscription_succeeded","channel":"ch","data":"{}"})");
    EXPECT_EQ(
        payload_of(*subscription_error("ch", "AuthError", "bad", 401)),
        R"({"event":"pusher:subscription_error","channel":"ch","data":{"type":"AuthError","error":"bad","status":401}})");
}

TEST(messages, presence_subscription_succeeded_double_encodes_the_member_list) {
    EXPECT_EQ(
        payload_of(*subscription_succeeded("presence-x",
                                           R"({"presence":{"ids":["1"],"hash":{"1":null},"count":1}})")),
        R"({"event":"pusher_internal:subscription_succeeded","channel":"presence-x","data":"{\"presence\":{\"ids\":[\"1\"],\"hash\":{\"1\":null},\"count\":1}}"})");
}

TEST(messages, client_event_relays_data_as_sent_and_adds_user_id) {
    EXPECT_EQ(payload_of(*client_event("client-typing", "presence-x", R"({"a":1})", "7")),
              R"({"event":"client-typing","channel":"presence-x","data":{"a":1},"user_id":"7"})");
    EXPECT_EQ(payload_of(*client_event("client-typing", "private-x", R"("text")", "")),
              R"({"event":"client-typing","channel":"private-x","data":"text"})");
}

TEST(messages, cache_miss_signin_and_counts_have_the_shapes_pusher_js_reads) {
    EXPECT_EQ(payload_of(*cache_miss("cache-x")), R"({"event":"pusher:cache_miss","channel":"cache-x"})");
    EXPECT_EQ(payload_of(*signin_success(R"({"id":"1"})")),
              R"({"event":"pusher:signin_success","data":{"user_data":"{\"id\":\"1\"}"}})");
    EXPECT_EQ(
        payload_of(*subscription_count("c", 3)),
        R"({"event":"pusher_internal:subscription_count","channel":"c","data":"{\"subscription_count\":3}"})");
    EXPECT_EQ(
        payload_of(*watchlist_events({"1"}, {"2", "3"})),
        R"({"event":"pusher_internal:watchlist_events","data":{"events":[{"name":"online","user_ids":["1"]},{"name":"offline","user_ids":["2","3"]}]}})");
}
