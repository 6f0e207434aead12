// socket_id generation, parsing and formatting.
#include "ringcast/pusher/socket_id.h"

#include <charconv>

namespace ringcast::pusher {

socket_key socket_id_generator::next() {
    // Two numbers in [1, 10^9], like Reverb: short enough to read in logs, 60 bits of entropy.
    std::uniform_int_distribution<std::uint32_t> dist(1, 1'000'000'000);
    std::uint64_t first = dist(rng_);
    return (first << 32) | dist(rng_);
}

bool valid_socket_id(std::string_view id) noexcept {
    size_t dot = id.find('.');
    if (dot == 0 || dot == std::string_view::npos || dot + 1 == id.size() || id.size() > 64) {
        return false;
    }
    for (size_t i = 0; i < id.size(); ++i) {
        if (i != dot && (id[i] < '0' || id[i] > '9')) {
            return false;
        }
    }
    return true;
}

socket_key parse_socket_id(std::string_view id) noexcept {
    if (!valid_socket_id(id)) {
        return 0;
    }
    size_t dot = id.find('.');
    std::uint32_t first = 0;
    std::uint32_t second = 0;
    auto a = std::from_chars(id.data(), id.data() + dot, first);
    auto b = std::from_chars(id.data() + dot + 1, id.data() + id.size(), second);
    if (a.ec != std::errc{} || b.ec != std::errc{} || a.ptr != id.data() + dot ||
        b.ptr != id.data() + id.size()) {
        return 0; // too large to be one of ours
    }
    return (static_cast<std::uint64_t>(first) << 32) | second;
}

std::string format_socket_id(socket_key key) {
    std::string out = std::to_string(key >> 32);
    out += '.';
    out += std::to_string(key & 0xffffffffu);
    return out;
}

} // namespace ringcast::pusher
