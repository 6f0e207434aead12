// The signatures a client presents: `auth` = "<app key>:<hex HMAC-SHA256(app secret, string)>",
// where the string is "<socket_id>:<channel>[:<channel_data>]" for a private, encrypted or presence
// subscription and "<socket_id>::user::<user_data>" for pusher:signin (Pusher's channel
// authorization and user authentication docs). One check serves both, so the two cannot drift
// apart; each caller words its own refusal.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringcast::auth {

enum class auth_check : unsigned char {
    ok,
    missing,         // no auth value at all
    malformed,       // not "key:signature"
    wrong_key,       // the key part is not the app's key
    wrong_signature, // the HMAC does not match (compared in constant time)
};

[[nodiscard]] auth_check check_auth(std::string_view app_key, std::string_view app_secret,
                                    std::string_view auth, std::string_view string_to_sign);

// "<socket_id>:<channel>", or with ":<channel_data>" (exactly as sent, even when empty) for a
// presence member.
[[nodiscard]] std::string channel_string_to_sign(std::string_view socket_id, std::string_view channel,
                                                 std::optional<std::string_view> channel_data = {});
// "<socket_id>::user::<user_data>".
[[nodiscard]] std::string signin_string_to_sign(std::string_view socket_id, std::string_view user_data);

} // namespace ringcast::auth
