#include "ringcast/ws/decoder.h"
#include "ringcast/ws/frame_encoder.h"
#include "ringcast/ws/handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ringcast;

namespace {

// A client frame, masked with a fixed key as RFC 6455 requires of clients.
std::string client_frame(std::uint8_t opcode, std::string_view payload, bool fin = true, bool masked = true) {
    std::string f;
    f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
    std::uint8_t mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(mask_bit | payload.size()));
    } else if (payload.size() <= 0xffff) {
        f.push_back(static_cast<char>(mask_bit | 126));
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
        f.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 7; i >= 0; --i) {
            f.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
        }
    }
    const char key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) {
        f.append(key, 4);
    }
    for (size_t i = 0; i < payload.size(); ++i) {
        f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
    }
    return f;
}

struct recorder : ws::message_sink {
    std::vector<std::string> texts;
    std::string control;
    void on_text(std::string_view m) override { texts.emplace_back(m); }
    void on_control_bytes(std::string_view b) override { control.append(b); }
    // The close code of the first close frame the decoder sent back.
    int close_code() const {
        if (control.size() < 4 || (static_cast<unsigned char>(control[0]) & 0x0f) != 0x8) {
            return -1;
        }
        return (static_cast<unsigned char>(control[2]) << 8) | static_cast<unsigned char>(control[3]);
    }
};

} // namespace

TEST(ws_handshake, accept_key_matches_rfc6455_example) {
    EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_handshake, check_upgrade_requires_version_13_and_a_key) {
    http::request req;
    req.method = "GET";
    req.headers = {{"upgrade", "websocket"},
                   {"connection", "keep-alive, Upgrade"},
                   {"sec-websocket-version", "13"},
                   {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="}};
    EXPECT_TRUE(ws::check_upgrade(req).ok());
    req.headers[2].second = "8";
    EXPECT_EQ(ws::check_upgrade(req).code(), 400);
}

TEST(ws_encoder, header_lengths_follow_the_three_size_classes) {
    EXPECT_EQ(ws::text_frame(std::string(125, 'a'))->size(), 127u);
    EXPECT_EQ(ws::text_frame(std::string(126, 'a'))->size(), 130u);
    EXPECT_EQ(ws::text_frame(std::string(70000, 'a'))->size(), 70010u);
    auto f = ws::text_frame("hi");
    EXPECT_EQ(f->view(), std::string("\x81\x02hi", 4));
}

TEST(ws_encoder, close_frame_carries_code_and_reason) {
    auto f = ws::close_frame(4001, "nope");
    EXPECT_EQ(f->view(), std::string("\x88\x06\x0f\xa1nope", 8));
}

TEST(ws_decoder, delivers_a_masked_text_message) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x1, R"({"event":"pusher:ping"})"), r), ws::decoder::state::open);
    ASSERT_EQ(r.texts.size(), 1u);
    EXPECT_EQ(r.texts[0], R"({"event":"pusher:ping"})");
}

TEST(ws_decoder, reassembles_fragments_split_across_feeds) {
    ws::decoder d(1000);
    recorder r;
    std::string bytes = client_frame(0x1, "hel", false) + client_frame(0x0, "lo");
    EXPECT_EQ(d.feed(std::string_view(bytes).substr(0, 5), r), ws::decoder::state::open);
    EXPECT_EQ(d.feed(std::string_view(bytes).substr(5), r), ws::decoder::state::open);
    ASSERT_EQ(r.texts.size(), 1u);
    EXPECT_EQ(r.texts[0], "hello");
}

TEST(ws_decoder, answers_ping_with_pong) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x9, "xy"), r), ws::decoder::state::open);
    EXPECT_EQ(r.control, std::string("\x8a\x02xy", 4));
}

TEST(ws_decoder, unmasked_frame_closes_with_1002) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x1, "hi", true, false), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1002);
}

TEST(ws_decoder, binary_frame_closes_with_1003) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x2, "hi"), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1003);
}

TEST(ws_decoder, invalid_utf8_closes_with_1007) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x1, "\xc3\x28"), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1007);
    EXPECT_TRUE(r.texts.empty());
}

TEST(ws_decoder, message_over_the_limit_closes_with_1009) {
    ws::decoder d(100);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x1, std::string(101, 'a')), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1009);
}

TEST(ws_decoder, client_close_is_answered_and_reported) {
    ws::decoder d(100);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x8, std::string("\x03\xe8", 2)), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1000);
}

TEST(ws_frame_boundary, is_idle_only_between_whole_messages) {
    ws::frame_boundary b;
    EXPECT_TRUE(b.idle());
    std::string first = client_frame(0x1, "hel", false);
    b.consume(std::string_view(first).substr(0, 3));
    EXPECT_FALSE(b.idle()); // inside a header
    b.consume(std::string_view(first).substr(3));
    EXPECT_FALSE(b.idle()); // between fragments of one message
    b.consume(client_frame(0x9, "ping"));
    EXPECT_FALSE(b.idle()); // a control frame does not end the message
    b.consume(client_frame(0x0, "lo"));
    EXPECT_TRUE(b.idle());
    std::string big = client_frame(0x1, std::string(70000, 'x'));
    b.consume(std::string_view(big).substr(0, 100));
    EXPECT_FALSE(b.idle());
    b.consume(std::string_view(big).substr(100));
    EXPECT_TRUE(b.idle());
}

TEST(ws_decoder, keeps_working_across_messages_after_freeing_its_context) {
    ws::decoder d(1000);
    recorder r;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(d.feed(client_frame(0x1, "m" + std::to_string(i)), r), ws::decoder::state::open);
    }
    EXPECT_EQ(r.texts, (std::vector<std::string>{"m0", "m1", "m2"}));
}

TEST(ws_decoder, a_64_bit_length_with_its_top_bit_set_closes_with_1002) {
    ws::decoder d(1000);
    recorder r;
    std::string f = "\x81\xff";
    f += '\x80';
    f.append(7, '\0');
    f += std::string("\x12\x34\x56\x78", 4);
    EXPECT_EQ(d.feed(f, r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1002);
}

TEST(ws_decoder, endless_empty_continuation_frames_close_with_1009) {
    ws::decoder d(1000);
    recorder r;
    std::string start = client_frame(0x1, "a", false);
    EXPECT_EQ(d.feed(start, r), ws::decoder::state::open);
    std::string empties;
    for (std::uint32_t i = 1; i < ws::decoder::max_frames_per_message; ++i) {
        empties += client_frame(0x0, "", false);
    }
    EXPECT_EQ(d.feed(empties, r), ws::decoder::state::open) << "up to the bound, a message may be split";
    EXPECT_EQ(d.feed(client_frame(0x0, "", false), r), ws::decoder::state::closing);
    EXPECT_EQ(r.close_code(), 1009);
    EXPECT_TRUE(r.texts.empty());
}

TEST(ws_decoder, a_message_in_many_frames_within_the_bound_is_delivered) {
    ws::decoder d(1000);
    recorder r;
    std::string bytes = client_frame(0x1, "a", false);
    for (int i = 0; i < 98; ++i) {
        bytes += client_frame(0x0, "b", false);
    }
    bytes += client_frame(0x0, "c");
    EXPECT_EQ(d.feed(bytes, r), ws::decoder::state::open);
    ASSERT_EQ(r.texts.size(), 1u);
    EXPECT_EQ(r.texts[0].size(), 100u);
    // The count starts again with the next message.
    EXPECT_EQ(d.feed(client_frame(0x1, "x"), r), ws::decoder::state::open);
    EXPECT_EQ(r.texts.size(), 2u);
}

// Whole text frames skip wslay; everything around them must still go to wslay in order.
TEST(ws_decoder, whole_frames_mixed_with_control_and_partial_frames_keep_their_order) {
    ws::decoder d(100000);
    recorder r;
    std::string big(5000, 'x'); // longer than the decoder's stack buffer, 16-bit length
    std::string mid(200, 'y');  // 16-bit length
    std::string bytes = client_frame(0x1, "one") + client_frame(0x1, mid) + client_frame(0x9, "p") +
                        client_frame(0x1, "two") + client_frame(0x1, big) + client_frame(0x1, "three");
    size_t cut = bytes.size() - 3; // "three" arrives in two pieces
    EXPECT_EQ(d.feed(std::string_view(bytes).substr(0, cut), r), ws::decoder::state::open);
    EXPECT_EQ(d.feed(std::string_view(bytes).substr(cut), r), ws::decoder::state::open);
    ASSERT_EQ(r.texts.size(), 5u);
    EXPECT_EQ(r.texts[0], "one");
    EXPECT_EQ(r.texts[1], mid);
    EXPECT_EQ(r.texts[2], "two");
    EXPECT_EQ(r.texts[3], big);
    EXPECT_EQ(r.texts[4], "three");
    EXPECT_EQ(r.control, std::string("\x8a\x01p", 3));
    EXPECT_EQ(d.feed(client_frame(0x1, "four"), r), ws::decoder::state::open);
    EXPECT_EQ(r.texts.back(), "four");
}

TEST(ws_decoder, invalid_utf8_after_a_whole_frame_closes_with_1007_after_delivering_it) {
    ws::decoder d(1000);
    recorder r;
    EXPECT_EQ(d.feed(client_frame(0x1, "ok") + client_frame(0x1, "\xc3\x28") + client_frame(0x1, "never"), r),
              ws::decoder::state::closing);
    ASSERT_EQ(r.texts.size(), 1u);
    EXPECT_EQ(r.texts[0], "ok");
    EXPECT_EQ(r.close_code(), 1007);
}

// RFC 6455 asks for the shortest length encoding but wslay takes a longer one; so do we.
TEST(ws_decoder, a_16_bit_length_below_126_is_accepted_as_wslay_does) {
    ws::decoder d(1000);
    recorder r;
    std::string f = "\x81\xfe";
    f.push_back('\0');
    f.push_back('\x02');
    f += std::string("\x01\x02\x03\x04", 4) + std::string("\x69\x6b", 2); // "hi" masked
    EXPECT_EQ(d.feed(f, r), ws::decoder::state::open);
    ASSERT_EQ(r.texts.size(), 1u);
    EXPECT_EQ(r.texts[0], "hi");
}
