#include "ringcast/http/parser.h"
#include "ringcast/http/response.h"

#include <gtest/gtest.h>

using namespace ringcast::http;

TEST(http_parser, parses_a_post_with_body_and_lowercases_header_names) {
    parser p({});
    std::string in =
        "POST /apps/1/events?auth_key=k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}";
    auto r = p.feed(in);
    ASSERT_EQ(r.what, parser::status::request);
    EXPECT_EQ(r.consumed, in.size());
    request req = p.take();
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.path(), "/apps/1/events");
    EXPECT_EQ(req.query(), "auth_key=k");
    EXPECT_EQ(req.header("content-type"), "application/json");
    EXPECT_EQ(req.body, "{}");
    EXPECT_TRUE(req.keep_alive);
}

TEST(http_parser, yields_pipelined_requests_one_at_a_time) {
    parser p({});
    std::string in = "GET /up HTTP/1.1\r\nHost: x\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n";
    std::string_view rest = in;
    auto r1 = p.feed(rest);
    ASSERT_EQ(r1.what, parser::status::request);
    EXPECT_EQ(p.take().path(), "/up");
    rest.remove_prefix(r1.consumed);
    auto r2 = p.feed(rest);
    ASSERT_EQ(r2.what, parser::status::request);
    EXPECT_EQ(p.take().path(), "/other");
}

TEST(http_parser, accepts_a_request_split_across_reads) {
    parser p({});
    EXPECT_EQ(p.feed("GET /u").what, parser::status::need_more);
    EXPECT_TRUE(p.mid_request());
    EXPECT_EQ(p.feed("p HTTP/1.1\r\nHo").what, parser::status::need_more);
    auto r = p.feed("st: x\r\n\r\n");
    ASSERT_EQ(r.what, parser::status::request);
    EXPECT_EQ(p.take().path(), "/up");
}

TEST(http_parser, reports_where_websocket_bytes_start_after_an_upgrade) {
    parser p({});
    std::string head =
        "GET /app/key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    std::string in = head + "\x81\x80";
    auto r = p.feed(in);
    ASSERT_EQ(r.what, parser::status::upgrade);
    EXPECT_EQ(r.consumed, head.size());
    EXPECT_TRUE(p.take().upgrade);
}

TEST(http_parser, malformed_request_is_a_400) {
    parser p({});
    auto r = p.feed("GARBAGE\r\n\r\n");
    EXPECT_EQ(r.what, parser::status::error);
    EXPECT_EQ(p.error_status(), 400);
}

TEST(http_parser, oversized_headers_are_a_431) {
    parser p({1024, 1024});
    std::string in = "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
    auto r = p.feed(in);
    EXPECT_EQ(r.what, parser::status::error);
    EXPECT_EQ(p.error_status(), 431);
}

TEST(http_parser, oversized_body_is_a_413_before_reading_it) {
    parser p({1024, 100});
    auto r = p.feed("POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    EXPECT_EQ(r.what, parser::status::error);
    EXPECT_EQ(p.error_status(), 413);
}

TEST(http_response, json_error_escapes_the_message) {
    std::string r = json_error(400, "bad \"x\"\n", false);
    EXPECT_NE(r.find("HTTP/1.1 400 Bad Request\r\n"), std::string::npos);
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
    EXPECT_NE(r.find(R"({"error":"bad \"x\"\n"})"), std::string::npos);
}
