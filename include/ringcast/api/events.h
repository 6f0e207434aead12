// POST /apps/{app_id}/events: validate a publish and hand it to the shard for fan-out.
#pragma once

#include "ringcast/api/signature.h"
#include "ringcast/config/config.h"

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

namespace ringcast::pusher {
class context;
}

namespace ringcast::api {

// One event as the HTTP API receives it (events endpoint, or one entry of a batch).
struct event_request {
    std::string name;
    std::string data;
    std::vector<std::string> channels;
    std::string socket_id;
};

// Validates a JSON body against the app's limits. On success fills `out`.
[[nodiscard]] api_error parse_event(simdjson::dom::parser& json, std::string_view body,
                                    const config::app& app, event_request& out);

// Encodes the event once per channel and publishes it. Returns the response body ("{}").
std::string publish_event(pusher::context& ctx, std::uint32_t app, const event_request& ev);

} // namespace ringcast::api
