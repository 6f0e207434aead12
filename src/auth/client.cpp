// Client signature checks (see client.h).
#include "ringcast/auth/client.h"

#include "ringcast/core/crypto.h"

namespace ringcast::auth {

auth_check check_auth(std::string_view app_key, std::string_view app_secret, std::string_view auth,
                      std::string_view string_to_sign) {
    if (auth.empty()) {
        return auth_check::missing;
    }
    size_t colon = auth.find(':');
    if (colon == std::string_view::npos) {
        return auth_check::malformed;
    }
    if (auth.substr(0, colon) != app_key) {
        return auth_check::wrong_key;
    }
    std::string expected = core::hmac_sha256_hex(app_secret, string_to_sign);
    return core::constant_time_equal(expected, auth.substr(colon + 1)) ? auth_check::ok
                                                                       : auth_check::wrong_signature;
}

std::string channel_string_to_sign(std::string_view socket_id, std::string_view channel,
                                   std::optional<std::string_view> channel_data) {
    std::string s(socket_id);
    s += ':';
    s += channel;
    if (channel_data) {
        s += ':';
        s += *channel_data;
    }
    return s;
}

std::string signin_string_to_sign(std::string_view socket_id, std::string_view user_data) {
    std::string s(socket_id);
    s += "::user::";
    s += user_data;
    return s;
}

} // namespace ringcast::auth
