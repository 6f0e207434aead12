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
    std::string info; // comma list: user_count, subscription_count
};

// Validates a JSON body against the app's limits. On success fills `out`.
[[nodiscard]] api_error parse_event(simdjson::dom::parser& json, std::string_view body,
                                    const config::app& app, event_request& out);
// The same checks for one already-parsed event object (an events body or a batch entry).
[[nodiscard]] api_error parse_event_fields(simdjson::dom::object obj, const config::app& app,
                                           event_request& out);
// A batch_events body: {"batch":[event, ...]}, at most app.max_batch_size events. An error in
// entry i names it ("batch[i]: ...").
[[nodiscard]] api_error parse_batch(simdjson::dom::parser& json, std::string_view body,
                                    const config::app& app, std::vector<event_request>& out);

// Encodes the event once per channel and publishes it. Returns the response body ("{}").
std::string publish_event(pusher::context& ctx, std::uint32_t app, const event_request& ev);

} // namespace ringcast::api
