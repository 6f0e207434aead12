// The read side of the HTTP API: which `info` attributes were asked for, and the JSON answers
// for channel lists, one channel, its users, and per-channel counts after a publish.
#pragma once

#include "ringcast/core/status.h"
#include "ringcast/pusher/query.h"

#include <string>
#include <string_view>
#include <vector>

namespace ringcast::api {

struct info_request {
    bool user_count = false;
    bool subscription_count = false;
    bool cache = false;
};

// Parses "user_count,subscription_count,cache"; an unknown attribute is a 400.
[[nodiscard]] core::result<info_request> parse_info(std::string_view info);

// {"channels":{"name":{...},...}}, sorted by name.
[[nodiscard]] std::string channel_list_json(std::vector<pusher::channel_summary> channels,
                                            const info_request& info);
// {"occupied":true,...} for GET /channels/{name}.
[[nodiscard]] std::string channel_json(const pusher::channel_summary& channel, const info_request& info);
// {"users":[{"id":"1"},...]}
[[nodiscard]] std::string users_json(const std::vector<std::string>& ids);
// {"user_count":n,"subscription_count":n} with what applies to the channel's kind.
[[nodiscard]] std::string counts_json(const pusher::channel_summary& channel, const info_request& info);

} // namespace ringcast::api
