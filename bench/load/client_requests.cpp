// Building (and signing) what bench clients send after the WebSocket handshake.
#include "client_requests.h"

#include "ringcast/core/crypto.h"

namespace ringcast::bench {

namespace {

// JSON string content of `text`: our channel names and member data need only quotes escaped.
void append_escaped(std::string& out, std::string_view text) {
    for (char ch : text) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
        }
        out += ch;
    }
}

// "seq":S,"t":T — the stamp receivers find with find_stamp().
void append_stamp(std::string& out, std::uint64_t seq, std::uint64_t t_ns) {
    out += R"("seq":)";
    out += std::to_string(seq);
    out += R"(,"t":)";
    out += std::to_string(t_ns);
}

} // namespace

std::string subscribe_message(const target& server, std::string_view socket_id, std::string_view channel,
                              bool sign, std::string_view channel_data) {
    std::string m = R"({"event":"pusher:subscribe","data":{"channel":")";
    m += channel;
    m += R"(","auth":")";
    if (sign) {
        std::string to_sign(socket_id);
        to_sign += ':';
        to_sign += channel;
        if (!channel_data.empty()) {
            to_sign += ':';
            to_sign += channel_data;
        }
        m += server.app_key;
        m += ':';
        m += core::hmac_sha256_hex(server.app_secret, to_sign);
    }
    m += '"';
    if (!channel_data.empty()) {
        // channel_data travels as a JSON string, signed exactly as it is sent (unescaped).
        m += R"(,"channel_data":")";
        append_escaped(m, channel_data);
        m += '"';
    }
    m += "}}";
    return m;
}

std::string unsubscribe_message(std::string_view channel) {
    std::string m = R"({"event":"pusher:unsubscribe","data":{"channel":")";
    m += channel;
    m += "\"}}";
    return m;
}

std::string presence_member(std::string_view user_id, std::uint64_t seq, std::uint64_t t_ns) {
    std::string d = R"({"user_id":")";
    d += user_id;
    d += R"(","user_info":{)";
    append_stamp(d, seq, t_ns);
    d += "}}";
    return d;
}

std::string client_event_message(std::string_view channel, std::uint64_t seq, std::uint64_t t_ns) {
    std::string m = R"({"event":"client-bench","channel":")";
    m += channel;
    m += R"(","data":{)";
    append_stamp(m, seq, t_ns);
    m += "}}";
    return m;
}

} // namespace ringcast::bench
