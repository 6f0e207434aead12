// socket_id: "<digits>.<digits>", the connection's identity in the Pusher protocol (used for
// auth signatures and for excluding the sender of an event).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace ringcast::pusher {

class socket_id_generator {
public:
    // Seeded from the OS once per shard; ids are unique with overwhelming probability and the
    // shard checks its own map for the rare collision.
    explicit socket_id_generator(std::uint64_t seed) : rng_(seed) {}
    [[nodiscard]] std::string next();

private:
    std::mt19937_64 rng_;
};

// The format server SDKs validate: /^\d+\.\d+$/.
[[nodiscard]] bool valid_socket_id(std::string_view id) noexcept;

} // namespace ringcast::pusher
