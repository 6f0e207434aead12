// Building and parsing the messages nodes exchange over Redis (see envelope.h).
#include "envelope.h"

#include <charconv>

namespace ringcast::cluster {

namespace {

// Largest frame accepted from Redis: twice the biggest event the HTTP API takes, so anything a
// node could publish fits and a stray giant message cannot make every node allocate it.
constexpr std::size_t max_remote_frame = 2 * 1024 * 1024;
constexpr std::string_view envelope_magic = "rc1 ";
constexpr std::string_view state_magic = "rcs ";

bool next_number(std::string_view& head, std::uint64_t& out) {
    std::size_t space = head.find(' ');
    std::string_view word = head.substr(0, space);
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out);
    head = space == std::string_view::npos ? std::string_view{} : head.substr(space + 1);
    return ec == std::errc() && end == word.data() + word.size() && !word.empty();
}

bool next_word(std::string_view& head, std::string_view& out) {
    std::size_t space = head.find(' ');
    if (space == std::string_view::npos) {
        return false;
    }
    out = head.substr(0, space);
    head.remove_prefix(space + 1);
    return true;
}

// The header line after the magic, and the body after it.
bool split_header(std::string_view text, std::string_view magic, std::string_view& head,
                  std::string_view& body) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos || nl > 160 || !text.starts_with(magic)) {
        return false;
    }
    head = text.substr(magic.size(), nl - magic.size());
    body = text.substr(nl + 1);
    return true;
}

} // namespace

std::string envelope(const std::string& node, std::uint64_t seq, const std::string& app_id,
                     const std::string& channel, std::uint64_t except, std::string_view frame) {
    std::string out(envelope_magic);
    out += node;
    out += ' ';
    out += std::to_string(seq);
    out += ' ';
    out += std::to_string(except);
    out += ' ';
    out += std::to_string(app_id.size());
    out += ' ';
    out += std::to_string(channel.size());
    out += '\n';
    out += app_id;
    out += channel;
    out += frame;
    return out;
}

bool parse_envelope(std::string_view text, parsed_envelope& out) {
    std::string_view head;
    std::string_view body;
    std::uint64_t app_len = 0;
    std::uint64_t channel_len = 0;
    if (!split_header(text, envelope_magic, head, body) || !next_word(head, out.node) ||
        !next_number(head, out.seq) || !next_number(head, out.except) || !next_number(head, app_len) ||
        !next_number(head, channel_len)) {
        return false;
    }
    if (app_len + channel_len > body.size() || body.size() - app_len - channel_len > max_remote_frame) {
        return false;
    }
    out.app_id = body.substr(0, app_len);
    out.channel = body.substr(app_len, channel_len);
    out.frame = body.substr(app_len + channel_len);
    return !out.frame.empty();
}

bool parse_state_event(std::string_view text, state_event& out) {
    std::string_view head;
    std::string_view body;
    std::string_view op;
    std::uint64_t app_len = 0;
    std::uint64_t channel_len = 0;
    std::uint64_t user_len = 0;
    if (!split_header(text, state_magic, head, body) || !next_word(head, op) || op.size() != 1 ||
        !next_number(head, out.except) || !next_word(head, out.skip_node) || !next_number(head, app_len) ||
        !next_number(head, channel_len) || !next_number(head, user_len)) {
        return false;
    }
    if (app_len + channel_len + user_len > body.size() || body.size() > max_remote_frame) {
        return false;
    }
    out.op = op[0];
    out.app_id = body.substr(0, app_len);
    out.channel = body.substr(app_len, channel_len);
    out.user = body.substr(app_len + channel_len, user_len);
    out.payload = body.substr(app_len + channel_len + user_len);
    return true;
}

} // namespace ringcast::cluster
