#include "ringcast/http/url.h"

#include <gtest/gtest.h>

using namespace ringcast::http;

TEST(url, percent_decode_handles_escapes_and_plus) {
    EXPECT_EQ(percent_decode("a%20b+c%2Fd"), "a b c/d");
    EXPECT_FALSE(percent_decode("bad%2").has_value());
    EXPECT_FALSE(percent_decode("bad%zz").has_value());
}

TEST(url, parse_query_keeps_order_and_empty_values) {
    auto q = parse_query("b=2&a=1&flag&x=");
    ASSERT_TRUE(q.has_value());
    ASSERT_EQ(q->size(), 4u);
    EXPECT_EQ((*q)[0].first, "b");
    EXPECT_EQ((*q)[2].first, "flag");
    EXPECT_EQ((*q)[2].second, "");
}
