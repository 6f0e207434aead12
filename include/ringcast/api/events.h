// POST /apps/{app_id}/events and batch_events: validate a publish and hand it to the shard for
// fan-out.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/core/status.h"

#include <simdjson.h>

#include <cstdint>
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

// Validates a JSON body against the app's limits (400, or 413 for data over the limit).
[[nodiscard]] core::result<event_request> parse_event(simdjson::dom::parser& json, std::string_view body,
                                                      const config::app& app);
// The same checks for one already-parsed event object (an events body or a batch entry).
[[nodiscard]] core::result<event_request> parse_event_fields(simdjson::dom::object obj,
                                                             const config::app& app);
// A batch_events body: {"batch":[event, ...]}, at most app.max_batch_size events. An error in
// entry i names it ("batch[i]: ...").
[[nodiscard]] core::result<std::vector<event_request>>
parse_batch(simdjson::dom::parser& json, std::string_view body, const config::app& app);

// Encodes each event once per channel and publishes it; a cache channel's owner remembers it.
// In a cluster each goes to the Redis bridge (acknowledged with `ack_id` when non-zero);
// returns how many did, that is how many acknowledgements to wait for.
unsigned publish(pusher::context& ctx, std::uint32_t app, const std::vector<event_request>& events,
                 std::uint64_t ack_id = 0);

} // namespace ringcast::api
