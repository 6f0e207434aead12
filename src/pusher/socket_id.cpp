// socket_id generation and format checks.
#include "ringcast/pusher/socket_id.h"

namespace ringcast::pusher {

std::string socket_id_generator::next() {
    // Two numbers in [1, 10^9], like Reverb: short enough to read in logs, 60 bits of entropy.
    std::uniform_int_distribution<std::uint32_t> dist(1, 1'000'000'000);
    std::string id = std::to_string(dist(rng_));
    id += '.';
    id += std::to_string(dist(rng_));
    return id;
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

} // namespace ringcast::pusher
