#include "ringcast/core/status.h"

#include <gtest/gtest.h>

#include <string>

using ringcast::core::failure;
using ringcast::core::result;
using ringcast::core::status;

TEST(status, default_is_ok) {
    status s;
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(static_cast<bool>(s));
    EXPECT_EQ(s.code(), 0);
    EXPECT_TRUE(s.message().empty());
}

TEST(status, failure_keeps_message_and_code) {
    status s = failure("Unknown auth_key", 401);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), 401);
    EXPECT_EQ(s.message(), "Unknown auth_key");
}

namespace {
result<int> parse_port(const std::string& text) {
    if (text.empty()) {
        return failure("--port: a number is required");
    }
    return std::stoi(text);
}
} // namespace

TEST(result, holds_a_value_or_the_error) {
    auto good = parse_port("6001");
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 6001);
    auto bad = parse_port("");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message(), "--port: a number is required");
}

TEST(result, moves_the_value_out) {
    result<std::string> r(std::string(100, 'x'));
    std::string taken = std::move(r).value();
    EXPECT_EQ(taken.size(), 100u);
}
