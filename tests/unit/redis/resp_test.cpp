// RESP: every type a Redis 7 / Valkey server sends, partial input, limits, and bad bytes.
#include "ringcast/redis/resp.h"

#include <gtest/gtest.h>

#include <string>

using ringcast::redis::append_command;
using ringcast::redis::kind;
using ringcast::redis::limits;
using ringcast::redis::parse;
using ringcast::redis::parse_status;
using ringcast::redis::value;

namespace {

value parsed(std::string_view text, std::size_t* used = nullptr) {
    value v;
    auto r = parse(text, v);
    EXPECT_EQ(r.status, parse_status::complete) << r.error;
    if (used != nullptr) {
        *used = r.consumed;
    }
    return v;
}

} // namespace

TEST(resp, commands_are_arrays_of_bulk_strings) {
    std::string out;
    append_command(out, {"PUBLISH", "rc:app:1", "hello\r\nworld"});
    EXPECT_EQ(out, "*3\r\n$7\r\nPUBLISH\r\n$8\r\nrc:app:1\r\n$12\r\nhello\r\nworld\r\n");
}

TEST(resp, scalars) {
    EXPECT_EQ(parsed("+OK\r\n").text, "OK");
    EXPECT_TRUE(parsed("-ERR wrong\r\n").is_error());
    EXPECT_EQ(parsed(":-42\r\n").integer, -42);
    EXPECT_EQ(parsed("$5\r\nhe\r\no\r\n").text, "he\r\no");
    EXPECT_EQ(parsed("$0\r\n\r\n").text, "");
    EXPECT_EQ(parsed("$-1\r\n").type, kind::null);
    EXPECT_EQ(parsed("_\r\n").type, kind::null);
    EXPECT_EQ(parsed("#t\r\n").integer, 1);
    EXPECT_EQ(parsed(",3.5\r\n").text, "3.5");
    EXPECT_EQ(parsed("=8\r\ntxt:abcd\r\n").text, "abcd");
    EXPECT_TRUE(parsed("!3\r\nBAD\r\n").is_error());
}

TEST(resp, a_pubsub_message_in_resp2_and_resp3) {
    value m = parsed("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nbody\r\n");
    ASSERT_EQ(m.type, kind::array);
    ASSERT_EQ(m.elements.size(), 3U);
    EXPECT_EQ(m.elements[2].text, "body");
    value p = parsed(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nbody\r\n");
    EXPECT_EQ(p.type, kind::push);
    value h = parsed("%1\r\n+server\r\n+redis\r\n");
    ASSERT_EQ(h.elements.size(), 2U);
    EXPECT_EQ(h.elements[1].text, "redis");
    value attributed = parsed("|1\r\n+ttl\r\n:3\r\n:7\r\n");
    EXPECT_EQ(attributed.integer, 7);
}

TEST(resp, values_back_to_back_are_taken_one_at_a_time) {
    std::string two = "+OK\r\n:1\r\n";
    std::size_t used = 0;
    EXPECT_EQ(parsed(two, &used).text, "OK");
    EXPECT_EQ(used, 5U);
    EXPECT_EQ(parsed(std::string_view(two).substr(used)).integer, 1);
}

TEST(resp, every_prefix_of_a_value_is_incomplete) {
    std::string full = "*2\r\n$3\r\nfoo\r\n*1\r\n:12\r\n";
    for (std::size_t n = 0; n < full.size(); ++n) {
        value v;
        EXPECT_EQ(parse(full.substr(0, n), v).status, parse_status::incomplete) << n;
    }
    EXPECT_EQ(parsed(full).elements[1].elements[0].integer, 12);
}

TEST(resp, bad_bytes_and_limits_are_invalid_not_a_crash) {
    limits l;
    l.max_bulk_bytes = 10;
    l.max_elements = 4;
    l.max_depth = 2;
    for (std::string bad :
         {"?x\r\n", ":12a\r\n", "$-2\r\n", "$11\r\n", "*5\r\n", "%3\r\n", "*1\r\n*1\r\n*1\r\n:1\r\n",
          "$2\r\nabcd", "#x\r\n", "_x\r\n", "=3\r\nabc\r\n", ":\r\n"}) {
        value v;
        auto r = parse(bad, v, l);
        EXPECT_EQ(r.status, parse_status::invalid) << bad;
        EXPECT_FALSE(r.error.empty());
    }
}
