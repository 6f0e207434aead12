// Tracks where client frames begin and end in the byte stream, reading only frame headers, so
// the decoder knows when no frame or fragmented message is in progress. At those moments the
// wslay context (8.8 KB each, mostly its input buffer) can be freed: an idle connection then
// holds no WebSocket parsing state at all, which is what keeps idle connections small.
//
// Reading the headers first also lets the decoder refuse, before wslay sees them, two things
// wslay would take without a word or answer with a bare TCP close: a message split into more
// frames than any client needs (endless empty continuation frames cost memory bandwidth and
// never end), and a 64-bit length with its top bit set (RFC 6455 forbids it).
#pragma once

#include <cstdint>
#include <string_view>

namespace ringcast::ws {

class frame_boundary {
public:
    void consume(std::string_view bytes) noexcept {
        size_t i = 0;
        while (i < bytes.size()) {
            if (payload_left_ > 0) {
                std::uint64_t take = bytes.size() - i < payload_left_ ? bytes.size() - i : payload_left_;
                payload_left_ -= take;
                i += static_cast<size_t>(take);
                continue;
            }
            header_[header_len_++] = static_cast<std::uint8_t>(bytes[i++]);
            if (header_len_ < 2 || header_len_ < needed()) {
                continue;
            }
            finish_header();
        }
    }

    // True between frames and outside fragmented messages.
    bool idle() const noexcept { return header_len_ == 0 && payload_left_ == 0 && !in_message_; }
    // Inside a fragmented message (its first frame has come, its last not yet).
    bool in_message() const noexcept { return in_message_; }
    // Frames of the message in progress (or of the last one), counting its first.
    std::uint32_t frames_in_message() const noexcept { return frames_in_message_; }
    // A frame header broke RFC 6455 in a way wslay does not report as a close (sticky).
    bool malformed() const noexcept { return malformed_; }

private:
    // Header bytes this frame needs: 2, plus 2 or 8 for extended lengths, plus 4 for the mask.
    unsigned needed() const noexcept {
        unsigned len7 = header_[1] & 0x7f;
        unsigned n = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        return n + ((header_[1] & 0x80) ? 4 : 0);
    }

    void finish_header() noexcept {
        bool fin = (header_[0] & 0x80) != 0;
        unsigned opcode = header_[0] & 0x0f;
        unsigned len7 = header_[1] & 0x7f;
        std::uint64_t len = len7;
        if (len7 == 126) {
            len = (static_cast<std::uint64_t>(header_[2]) << 8) | header_[3];
        } else if (len7 == 127) {
            len = 0;
            for (int k = 0; k < 8; ++k) {
                len = (len << 8) | header_[2 + k];
            }
        }
        if (len7 == 127 && (header_[2] & 0x80) != 0) {
            malformed_ = true; // "the most significant bit MUST be 0"
        }
        if (opcode < 0x8) { // data frames: text, binary, continuation
            frames_in_message_ = in_message_ ? frames_in_message_ + 1 : 1;
            in_message_ = !fin;
        }
        payload_left_ = len;
        header_len_ = 0;
    }

    std::uint8_t header_[14] = {};
    unsigned header_len_ = 0;
    std::uint64_t payload_left_ = 0;
    bool in_message_ = false;
    bool malformed_ = false;
    std::uint32_t frames_in_message_ = 0;
};

} // namespace ringcast::ws
