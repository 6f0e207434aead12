#include "ringcast/api/events.h"

#include <gtest/gtest.h>

using namespace ringcast;

namespace {
// The status of parsing `body`; on success `out` holds the event.
core::status parse(std::string_view body, api::event_request& out, config::app a = {}) {
    static simdjson::dom::parser json;
    auto parsed = api::parse_event(json, body, a);
    if (!parsed) {
        return parsed.error();
    }
    out = std::move(*parsed);
    return core::ok();
}
} // namespace

TEST(events, accepts_channels_array_and_socket_id) {
    api::event_request ev;
    EXPECT_TRUE(parse(R"({"name":"e","data":"{\"a\":1}","channels":["a","b"],"socket_id":"1.2"})", ev));
    EXPECT_EQ(ev.name, "e");
    EXPECT_EQ(ev.data, R"({"a":1})");
    EXPECT_EQ(ev.channels, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(ev.socket_id, "1.2");
}

TEST(events, accepts_the_php_sdks_single_channel_field) {
    api::event_request ev;
    EXPECT_TRUE(parse(R"({"name":"e","data":"x","channel":"only"})", ev));
    EXPECT_EQ(ev.channels, (std::vector<std::string>{"only"}));
}

TEST(events, passes_non_string_data_on_as_json_text) {
    api::event_request ev;
    EXPECT_TRUE(parse(R"({"name":"e","data":{"a": [1, 2]},"channel":"c"})", ev));
    EXPECT_EQ(ev.data, R"({"a":[1,2]})");
}

TEST(events, data_over_the_limit_is_413) {
    api::event_request ev;
    std::string body = R"({"name":"e","channel":"c","data":")" + std::string(10241, 'x') + "\"}";
    EXPECT_EQ(parse(body, ev).code(), 413);
    api::event_request ok;
    body = R"({"name":"e","channel":"c","data":")" + std::string(10240, 'x') + "\"}";
    EXPECT_TRUE(parse(body, ok));
}

TEST(events, malformed_requests_are_400) {
    api::event_request ev;
    EXPECT_EQ(parse("{", ev).code(), 400);
    EXPECT_EQ(parse("[]", ev).code(), 400);
    EXPECT_EQ(parse(std::string_view{}, ev).code(), 400); // empty, null data: no memcpy from null
    EXPECT_EQ(parse("", ev).code(), 400);
    EXPECT_EQ(parse(R"({"data":"x","channel":"c"})", ev).code(), 400);
    EXPECT_EQ(parse(R"({"name":"e","channel":"c"})", ev).code(), 400);
    EXPECT_EQ(parse(R"({"name":"e","data":"x"})", ev).code(), 400);
    EXPECT_EQ(parse(R"({"name":"e","data":"x","channel":"bad name"})", ev).code(), 400);
    EXPECT_EQ(parse(R"({"name":"e","data":"x","channel":"c","socket_id":"nope"})", ev).code(), 400);
    std::string long_name(201, 'n');
    EXPECT_EQ(parse(R"({"name":")" + long_name + R"(","data":"x","channel":"c"})", ev).code(), 400);
}

TEST(events, more_than_100_channels_is_400) {
    std::string channels;
    for (int i = 0; i < 101; ++i) {
        channels += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
    }
    api::event_request ev;
    EXPECT_EQ(parse(R"({"name":"e","data":"x","channels":[)" + channels + "]}", ev).code(), 400);
}
