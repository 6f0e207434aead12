// socket_id: "<digits>.<digits>", the connection's identity in the Pusher protocol (used for
// auth signatures and for excluding the sender of an event). Inside the server it travels as a
// socket_key: both numbers packed in 64 bits, which keeps it out of the heap on every session,
// map entry and mail that carries it.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace ringcast::pusher {

// (first << 32) | second; 0 means "none".
using socket_key = std::uint64_t;

class socket_id_generator {
public:
    // Seeded from the OS once per shard; ids are unique with overwhelming probability and the
    // shard checks its own map for the rare collision.
    explicit socket_id_generator(std::uint64_t seed) : rng_(seed) {}
    [[nodiscard]] socket_key next();

private:
    std::mt19937_64 rng_;
};

// The format server SDKs validate: /^\d+\.\d+$/.
[[nodiscard]] bool valid_socket_id(std::string_view id) noexcept;
// The key of a socket_id, or 0 when it is not one ringcast could have issued.
[[nodiscard]] socket_key parse_socket_id(std::string_view id) noexcept;
[[nodiscard]] std::string format_socket_id(socket_key key);

} // namespace ringcast::pusher
