// The messages nodes exchange over Redis: what one node builds, another parses back; what is
// not ours, or is cut short, or claims more than it carries, is refused.
#include "envelope.h"

#include <gtest/gtest.h>

#include <string>

using namespace ringcast::cluster;

TEST(envelope, a_broadcast_round_trips_with_any_bytes_in_app_channel_and_frame) {
    std::string frame("\x81\x05hel\nlo", 8);
    std::string text = envelope("0123abcd", 42, "app 1\n", "presence-x", 77, frame);
    parsed_envelope e;
    ASSERT_TRUE(parse_envelope(text, e));
    EXPECT_EQ(e.node, "0123abcd");
    EXPECT_EQ(e.seq, 42u);
    EXPECT_EQ(e.except, 77u);
    EXPECT_EQ(e.app_id, "app 1\n");
    EXPECT_EQ(e.channel, "presence-x");
    EXPECT_EQ(e.frame, frame);
}

TEST(envelope, refuses_what_is_not_a_whole_broadcast) {
    parsed_envelope e;
    EXPECT_FALSE(parse_envelope("", e));
    EXPECT_FALSE(parse_envelope("hello", e));
    EXPECT_FALSE(parse_envelope("rc1 node 1 0 3 5\nappch", e)); // no frame
    EXPECT_FALSE(parse_envelope("rc1 node 1 0 30 5\napp", e));  // lengths past the end
    EXPECT_FALSE(parse_envelope("rc1 node x 0 3 1\nappcF", e)); // seq not a number
    EXPECT_FALSE(parse_envelope("rc1 node 1 0 3\nappF", e));    // a field missing
    EXPECT_FALSE(parse_envelope("rcs a 0 - 1 1 1\nacu", e));    // a state event
}

TEST(envelope, a_state_event_gives_op_except_skip_app_channel_user_and_payload) {
    state_event se;
    ASSERT_TRUE(parse_state_event("rcs a 123 node7 3 10 4\napppresence-xuser{\"n\":1}", se));
    EXPECT_EQ(se.op, 'a');
    EXPECT_EQ(se.except, 123u);
    EXPECT_EQ(se.skip_node, "node7");
    EXPECT_EQ(se.app_id, "app");
    EXPECT_EQ(se.channel, "presence-x");
    EXPECT_EQ(se.user, "user");
    EXPECT_EQ(se.payload, "{\"n\":1}");
}

TEST(envelope, a_state_event_may_have_an_empty_channel_and_payload) {
    state_event se;
    ASSERT_TRUE(parse_state_event("rcs f 0 - 3 0 2\nappu1", se));
    EXPECT_EQ(se.op, 'f');
    EXPECT_EQ(se.channel, "");
    EXPECT_EQ(se.user, "u1");
    EXPECT_EQ(se.payload, "");
}

TEST(envelope, refuses_a_state_event_that_is_cut_short_or_malformed) {
    state_event se;
    EXPECT_FALSE(parse_state_event("rcs a 0 - 3 10 4\napp", se)); // lengths past the end
    EXPECT_FALSE(parse_state_event("rcs ab 0 - 1 1 1\nacu", se)); // op of two letters
    EXPECT_FALSE(parse_state_event("rcs a x - 1 1 1\nacu", se));  // except not a number
    EXPECT_FALSE(parse_state_event("rcs a 0 - 1 1\nacu", se));    // a length missing
    EXPECT_FALSE(parse_state_event("rc1 a 0 - 1 1 1\nacu", se));  // a broadcast
    EXPECT_FALSE(parse_state_event("rcs a 0 - 1 1 1 acu", se));   // no header line
}
