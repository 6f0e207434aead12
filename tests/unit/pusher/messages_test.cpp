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
