// Signed Pusher HTTP API requests (spec §2.2): the query carries auth_key, auth_timestamp,
// auth_version=1.0 and body_md5, sorted by key, and auth_signature is the hex HMAC-SHA256 of
// "POST\n<path>\n<query>" with the app secret. The signed path never includes the server's URL
// prefix (the PHP SDK signs it without, and servers accept that).
#pragma once

#include "layout.h"
#include "options.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

// A complete HTTP/1.1 keep-alive request: POST {prefix}/apps/{id}/{endpoint}?{signed query}.
[[nodiscard]] std::string signed_post(const target& server, std::string_view endpoint, std::string_view body,
                                      std::uint64_t unix_ts);

// The body of POST /apps/{id}/events for event `seq`, stamped with `t_ns`, sent to the channels of
// its group. The data is a JSON string whose content is {"seq":S,"t":T} (+ padding).
[[nodiscard]] std::string event_body(const layout& channels, std::uint64_t seq, std::uint64_t t_ns,
                                     std::uint32_t payload_bytes);
// The body of POST /apps/{id}/batch_events carrying `count` events from `first_seq` (one channel each).
[[nodiscard]] std::string batch_body(const layout& channels, std::uint64_t first_seq, std::uint32_t count,
                                     std::uint64_t t_ns, std::uint32_t payload_bytes);

} // namespace ringcast::bench
