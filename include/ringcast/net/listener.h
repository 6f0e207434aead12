// A listening TCP socket per shard. SO_REUSEPORT lets every shard bind the same address; the
// kernel then spreads incoming connections across the shards by hashing the 4-tuple, so no
// shard hands connections to another.
#pragma once

#include <cstdint>
#include <string>

namespace ringcast::net {

// Bytes the kernel may hold unsent per connection (TCP_NOTSENT_LOWAT, see listener.cpp).
inline constexpr std::uint32_t unsent_low_water = 128 * 1024;

// Returns the listening fd; throws std::runtime_error naming the address on failure. The
// socket has TCP_NODELAY, which accepted connections inherit: Pusher frames are small and
// latency-sensitive, and we coalesce writes ourselves, so Nagle would only add delay. It also
// has TCP_NOTSENT_LOWAT = unsent_low_water, inherited the same way.
[[nodiscard]] int listen_reuseport(const std::string& host, std::uint16_t port, int backlog = 4096);

// Throws std::runtime_error ("... Address already in use ...") when a process already listens on
// host:port: called once before the shards bind, since SO_REUSEPORT alone would let a second
// server share the port silently.
void refuse_if_served(const std::string& host, std::uint16_t port);

} // namespace ringcast::net
