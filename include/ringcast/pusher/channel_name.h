// Channel names: which kind a name denotes, and whether it is acceptable.
#pragma once

#include "ringcast/core/status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::pusher {

enum class channel_kind : std::uint8_t {
    public_channel,
    private_channel,
    presence,
    private_encrypted,
    cache,
    private_cache,
    presence_cache,
    private_encrypted_cache,
    server_to_user, // "#server-to-user-{id}", reserved for signed-in users
};

// The kind a name's prefix selects. Longest prefixes are tested first (private-encrypted-cache-
// before private-encrypted- before private-), so every name maps to exactly one kind.
[[nodiscard]] channel_kind kind_of(std::string_view name) noexcept;

[[nodiscard]] bool is_presence(channel_kind k) noexcept;
// Cache channels of every flavour (cache-, private-cache-, private-encrypted-cache-, presence-cache-).
[[nodiscard]] bool is_cache(channel_kind k) noexcept;
// Kinds whose subscription needs an `auth` signature.
[[nodiscard]] bool needs_auth(channel_kind k) noexcept;

// "" when the name is acceptable, else a message for the client: non-empty, at most
// `max_length` bytes, only A-Z a-z 0-9 _ - = @ , . ; (Pusher's documented set). A leading '#'
// is allowed only for the reserved server-to-user channels.
[[nodiscard]] core::status check_channel_name(std::string_view name, std::uint32_t max_length);

} // namespace ringcast::pusher
