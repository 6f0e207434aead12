// Pusher HTTP API request signing: auth_key, auth_timestamp (600 s window), auth_version,
// body_md5 and auth_signature = HMAC-SHA256(secret, "METHOD\nPATH\nQUERY") where QUERY is every
// parameter but auth_signature, keys lower-cased, sorted, joined unescaped.
#pragma once

#include "ringcast/core/status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::auth {

// Decoded query parameters, in the order received.
using params = std::vector<std::pair<std::string, std::string>>;

// What the check needs to know about an app (views into its configuration).
struct app_credentials {
    std::string_view id;
    std::string_view key;
    std::string_view secret;
};

// The canonical query string that is signed (see above).
[[nodiscard]] std::string canonical_query(const params& query);

// The string a client must HMAC for this request.
[[nodiscard]] std::string string_to_sign(std::string_view method, std::string_view path, const params& query);

// Checks a request against `app`. `path` is the path as received; when `prefix` (the server's
// --path) is non-empty the signature is also accepted over the path without it, because the
// PHP SDK signs /apps/... while sending /prefix/apps/.... A refusal's code is 401.
[[nodiscard]] core::status verify(const app_credentials& app, std::string_view method, std::string_view path,
                                  std::string_view prefix, const params& query, std::string_view body,
                                  std::int64_t now_unix);

// The maximum clock difference accepted, in seconds (hosted Pusher's documented window).
inline constexpr std::int64_t timestamp_window_s = 600;

} // namespace ringcast::auth
