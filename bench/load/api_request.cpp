// Building and signing the publisher's HTTP API requests.
#include "api_request.h"

#include "ringcast/core/crypto.h"

#include <algorithm>

namespace ringcast::bench {

namespace {

// The data string as it appears inside the JSON body. Built plain first (so padding makes the
// data the subscriber sees exactly payload_bytes long), then its quotes are escaped once.
void append_data(std::string& out, std::uint64_t seq, std::uint64_t t_ns, std::uint32_t payload_bytes) {
    std::string plain = "{\"seq\":" + std::to_string(seq) + ",\"t\":" + std::to_string(t_ns);
    if (payload_bytes > plain.size() + 10) {
        plain += ",\"pad\":\"";
        plain.append(payload_bytes - plain.size() - 2, 'x');
        plain += '"';
    }
    plain += '}';
    for (char ch : plain) {
        if (ch == '"') {
            out += '\\';
        }
        out += ch;
    }
}

void append_channels(std::string& out, const layout& channels, std::uint64_t seq) {
    out += R"("channels":[)";
    if (!channels.per_connection) {
        out += '"';
        out += channels.channel;
        out += '"';
    } else {
        std::uint32_t group = channels.group_of_event(seq);
        std::uint32_t first = group * channels.per_event;
        // A group sharing one channel (soak) names it once.
        std::uint32_t last =
            channels.shared_by_group ? first + 1 : std::min(first + channels.per_event, channels.connections);
        for (std::uint32_t conn = first; conn < last; ++conn) {
            if (conn != first) {
                out += ',';
            }
            out += '"';
            out += channels.channel_of(conn);
            out += '"';
        }
    }
    out += ']';
}

} // namespace

std::string event_body(const layout& channels, std::uint64_t seq, std::uint64_t t_ns,
                       std::uint32_t payload_bytes) {
    std::string body = R"({"name":"bench",)";
    append_channels(body, channels, seq);
    body += R"(,"data":")";
    append_data(body, seq, t_ns, payload_bytes);
    body += "\"}";
    return body;
}

std::string batch_body(const layout& channels, std::uint64_t first_seq, std::uint32_t count,
                       std::uint64_t t_ns, std::uint32_t payload_bytes) {
    std::string body = R"({"batch":[)";
    for (std::uint32_t i = 0; i < count; ++i) {
        if (i != 0) {
            body += ',';
        }
        std::uint64_t seq = first_seq + i;
        body += R"({"name":"bench","channel":")";
        body += channels.channel_of(channels.group_of_event(seq) * channels.per_event);
        body += R"(","data":")";
        append_data(body, seq, t_ns, payload_bytes);
        body += "\"}";
    }
    body += "]}";
    return body;
}

std::string signed_post(const target& server, std::string_view endpoint, std::string_view body,
                        std::uint64_t unix_ts) {
    std::string signed_path = "/apps/" + server.app_id + "/" + std::string(endpoint);
    // Keys already in sorted order; values need no escaping (hex and digits).
    std::string query = "auth_key=" + server.app_key + "&auth_timestamp=" + std::to_string(unix_ts) +
                        "&auth_version=1.0&body_md5=" + core::md5_hex(body);
    std::string signature = core::hmac_sha256_hex(server.app_secret, "POST\n" + signed_path + "\n" + query);

    std::string r;
    r.reserve(body.size() + 400);
    r += "POST ";
    r += server.path;
    r += signed_path;
    r += '?';
    r += query;
    r += "&auth_signature=";
    r += signature;
    r += " HTTP/1.1\r\nHost: ";
    r += server.host;
    r += ':';
    r += std::to_string(server.port);
    r += "\r\nContent-Type: application/json\r\nX-Pusher-Library: ringcast-bench\r\nContent-Length: ";
    r += std::to_string(body.size());
    r += "\r\n\r\n";
    r += body;
    return r;
}

} // namespace ringcast::bench
