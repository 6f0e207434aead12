// WebSocket framing, handshake strings and payload scanning for ringcast-bench's clients.
#include "ws_wire.h"

#include "ringcast/core/crypto.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace ringcast::bench {

namespace {

constexpr std::uint64_t max_payload = 16ULL << 20;

// Skips what separates a key from its value in (possibly escaped) JSON: \" : and spaces.
std::size_t skip_separators(std::string_view text, std::size_t pos) noexcept {
    std::size_t skipped = 0;
    while (pos < text.size() && skipped < 6 &&
           (text[pos] == '\\' || text[pos] == '"' || text[pos] == ':' || text[pos] == ' ')) {
        ++pos;
        ++skipped;
    }
    return pos;
}

// Parses the decimal number that follows a key, skipping the closing quote (escaped or not),
// the colon and spaces. Returns false when no digit follows within a few characters.
bool number_after(std::string_view text, std::size_t pos, std::uint64_t& out, std::size_t& end) noexcept {
    pos = skip_separators(text, pos);
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
        return false;
    }
    std::uint64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        value = value * 10 + static_cast<std::uint64_t>(text[pos] - '0');
        ++pos;
    }
    out = value;
    end = pos;
    return true;
}

std::string base64(const unsigned char* data, std::size_t size) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    for (std::size_t i = 0; i < size; i += 3) {
        std::uint32_t chunk = static_cast<std::uint32_t>(data[i]) << 16;
        if (i + 1 < size) {
            chunk |= static_cast<std::uint32_t>(data[i + 1]) << 8;
        }
        if (i + 2 < size) {
            chunk |= data[i + 2];
        }
        out += alphabet[(chunk >> 18) & 63];
        out += alphabet[(chunk >> 12) & 63];
        out += i + 1 < size ? alphabet[(chunk >> 6) & 63] : '=';
        out += i + 2 < size ? alphabet[chunk & 63] : '=';
    }
    return out;
}

} // namespace

frame_status read_frame(std::string_view data, ws_frame& frame, std::size_t& consumed) noexcept {
    if (data.size() < 2) {
        return frame_status::need_more;
    }
    auto b0 = static_cast<unsigned char>(data[0]);
    auto b1 = static_cast<unsigned char>(data[1]);
    if ((b1 & 0x80) != 0) {
        return frame_status::bad;
    }
    std::size_t header = 2;
    std::uint64_t length = b1 & 0x7f;
    if (length == 126) {
        if (data.size() < 4) {
            return frame_status::need_more;
        }
        length = (static_cast<std::uint64_t>(static_cast<unsigned char>(data[2])) << 8) |
                 static_cast<unsigned char>(data[3]);
        header = 4;
    } else if (length == 127) {
        if (data.size() < 10) {
            return frame_status::need_more;
        }
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) {
            length = (length << 8) | static_cast<unsigned char>(data[i]);
        }
        header = 10;
    }
    if (length > max_payload) {
        return frame_status::bad;
    }
    if (data.size() - header < length) {
        return frame_status::need_more;
    }
    frame.fin = (b0 & 0x80) != 0;
    frame.opcode = static_cast<ws_opcode>(b0 & 0x0f);
    frame.payload = data.substr(header, static_cast<std::size_t>(length));
    consumed = header + static_cast<std::size_t>(length);
    return frame_status::ok;
}

std::size_t frame_length(std::string_view data) noexcept {
    if (data.size() < 2) {
        return 0;
    }
    std::uint64_t length = static_cast<unsigned char>(data[1]) & 0x7f;
    std::size_t header = 2;
    if (length >= 126) {
        header = length == 126 ? 4 : 10;
        if (data.size() < header) {
            return 0;
        }
        length = 0;
        for (std::size_t i = 2; i < header; ++i) {
            length = (length << 8) | static_cast<unsigned char>(data[i]);
        }
    }
    // A bad length is caught by read_frame once the bytes are there; cap it so callers never wait
    // for more than read_frame would accept.
    return header + static_cast<std::size_t>(std::min<std::uint64_t>(length, max_payload));
}

void append_masked_frame(std::string& out, ws_opcode opcode, std::string_view payload, std::uint32_t mask) {
    out += static_cast<char>(0x80 | static_cast<unsigned>(opcode));
    std::size_t n = payload.size();
    if (n < 126) {
        out += static_cast<char>(0x80 | n);
    } else if (n <= 0xffff) {
        out += static_cast<char>(0x80 | 126);
        out += static_cast<char>(n >> 8);
        out += static_cast<char>(n & 0xff);
    } else {
        out += static_cast<char>(0x80 | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
            out += static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff);
        }
    }
    std::array<char, 4> key{static_cast<char>(mask >> 24), static_cast<char>(mask >> 16),
                            static_cast<char>(mask >> 8), static_cast<char>(mask)};
    out.append(key.data(), key.size());
    std::size_t start = out.size();
    out.append(payload);
    for (std::size_t i = 0; i < n; ++i) {
        out[start + i] = static_cast<char>(out[start + i] ^ key[i & 3]);
    }
}

std::string websocket_key(std::uint64_t seed) {
    // splitmix64: cheap, and distinct seeds give distinct keys, which is all a server can check.
    std::array<unsigned char, 16> raw{};
    for (std::size_t half = 0; half < 2; ++half) {
        seed += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        std::memcpy(raw.data() + half * 8, &z, 8);
    }
    return base64(raw.data(), raw.size());
}

std::string websocket_accept(std::string_view key) {
    std::string input(key);
    input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; // RFC 6455 §1.3
    return core::sha1_base64(input);
}

std::string upgrade_request(std::string_view host, std::uint16_t port, std::string_view path,
                            std::string_view app_key, std::string_view ws_key) {
    std::string r;
    r.reserve(256);
    r += "GET ";
    r += path;
    r += "/app/";
    r += app_key;
    r += "?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\nHost: ";
    r += host;
    r += ':';
    r += std::to_string(port);
    r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ";
    r += ws_key;
    r += "\r\nUser-Agent: ringcast-bench\r\n\r\n";
    return r;
}

std::string_view event_name(std::string_view payload) noexcept {
    std::size_t pos = payload.find("\"event\"");
    if (pos == std::string_view::npos) {
        return {};
    }
    pos = payload.find('"', pos + 7);
    if (pos == std::string_view::npos) {
        return {};
    }
    std::size_t end = payload.find('"', pos + 1);
    if (end == std::string_view::npos) {
        return {};
    }
    return payload.substr(pos + 1, end - pos - 1);
}

bool find_stamp(std::string_view payload, stamp& out) noexcept {
    std::size_t pos = payload.find("seq");
    if (pos == std::string_view::npos) {
        return false;
    }
    std::size_t end = 0;
    if (!number_after(payload, pos + 3, out.seq, end)) {
        return false;
    }
    // The "t" key follows "seq" in what our publisher writes; a quote before it (escaped or not)
    // keeps words that merely end in t from matching.
    for (pos = payload.find("\"t", end); pos != std::string_view::npos; pos = payload.find("\"t", pos + 2)) {
        if (pos + 2 < payload.size() && (payload[pos + 2] == '"' || payload[pos + 2] == '\\')) {
            return number_after(payload, pos + 2, out.t_ns, end);
        }
    }
    return false;
}

std::string_view find_socket_id(std::string_view payload) noexcept {
    std::size_t pos = payload.find("socket_id");
    if (pos == std::string_view::npos) {
        return {};
    }
    pos = skip_separators(payload, pos + 9);
    std::size_t end = pos;
    while (end < payload.size() && payload[end] != '"' && payload[end] != '\\') {
        ++end;
    }
    return payload.substr(pos, end - pos);
}

bool find_user(std::string_view payload, char& kind, std::uint32_t& number) noexcept {
    std::size_t pos = payload.find("user_id");
    if (pos == std::string_view::npos) {
        return false;
    }
    pos = skip_separators(payload, pos + 7);
    std::uint64_t value = 0;
    std::size_t end = 0;
    if (pos >= payload.size() || !number_after(payload, pos + 1, value, end) || value > UINT32_MAX) {
        return false;
    }
    kind = payload[pos];
    number = static_cast<std::uint32_t>(value);
    return true;
}

bool read_presence(std::string_view payload, std::string_view own_id, presence_summary& out) noexcept {
    std::size_t pos = payload.find("\"count");
    std::size_t end = 0;
    if (pos == std::string_view::npos || !number_after(payload, pos + 6, out.count, end)) {
        return false;
    }
    std::size_t open = payload.find('[', payload.find("\"ids"));
    std::size_t close = open == std::string_view::npos ? open : payload.find(']', open);
    if (close == std::string_view::npos) {
        return false;
    }
    // User ids are strings of letters and digits here: entries are the commas plus one.
    std::string_view ids = payload.substr(open + 1, close - open - 1);
    out.listed = ids.empty() ? 0 : 1 + static_cast<std::uint64_t>(std::count(ids.begin(), ids.end(), ','));
    out.has_self = false;
    for (pos = ids.find(own_id); pos != std::string_view::npos; pos = ids.find(own_id, pos + 1)) {
        std::size_t after = pos + own_id.size();
        if (pos > 0 && ids[pos - 1] == '"' &&
            (after == ids.size() || ids[after] == '"' || ids[after] == '\\')) {
            out.has_self = true;
        }
    }
    return true;
}

} // namespace ringcast::bench
