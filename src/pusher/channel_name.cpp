// Channel-name classification and validation.
#include "ringcast/pusher/channel_name.h"

namespace ringcast::pusher {

channel_kind kind_of(std::string_view name) noexcept {
    if (name.starts_with("private-encrypted-cache-")) {
        return channel_kind::private_encrypted_cache;
    }
    if (name.starts_with("private-encrypted-")) {
        return channel_kind::private_encrypted;
    }
    if (name.starts_with("private-cache-")) {
        return channel_kind::private_cache;
    }
    if (name.starts_with("private-")) {
        return channel_kind::private_channel;
    }
    if (name.starts_with("presence-cache-")) {
        return channel_kind::presence_cache;
    }
    if (name.starts_with("presence-")) {
        return channel_kind::presence;
    }
    if (name.starts_with("cache-")) {
        return channel_kind::cache;
    }
    if (name.starts_with("#server-to-user-")) {
        return channel_kind::server_to_user;
    }
    return channel_kind::public_channel;
}

bool is_presence(channel_kind k) noexcept {
    return k == channel_kind::presence || k == channel_kind::presence_cache;
}

bool is_cache(channel_kind k) noexcept {
    return k == channel_kind::cache || k == channel_kind::private_cache ||
           k == channel_kind::presence_cache || k == channel_kind::private_encrypted_cache;
}

bool needs_auth(channel_kind k) noexcept {
    return k != channel_kind::public_channel && k != channel_kind::cache && k != channel_kind::server_to_user;
}

core::status check_channel_name(std::string_view name, std::uint32_t max_length) {
    if (name.empty()) {
        return core::failure("Channel name must not be empty");
    }
    if (name.size() > max_length) {
        return core::failure("Channel name is " + std::to_string(name.size()) +
                             " characters long; the limit is " + std::to_string(max_length));
    }
    std::string_view body = name;
    if (name.starts_with("#server-to-user-")) {
        body.remove_prefix(1);
    }
    for (char c : body) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
        if (!ok) {
            return core::failure("Invalid channel name '" + std::string(name) +
                                 "': only A-Z, a-z, 0-9 and _ - = @ , . ; are allowed");
        }
    }
    return core::ok();
}

} // namespace ringcast::pusher
