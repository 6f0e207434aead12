// The HTTP API's endpoints as functions: a request (already routed and signature-checked) in,
// and out either a response or a plan (questions for the shards that know the answer, and how
// to build the JSON body from their replies), plus the events to publish once the response is
// queued. Nothing here touches a socket or a shard: the server layer routes, checks the
// signature, sends the plan's queries, gathers the replies and writes the response.
#pragma once

#include "ringcast/api/channels.h"
#include "ringcast/api/events.h"
#include "ringcast/auth/signature.h"
#include "ringcast/config/config.h"
#include "ringcast/core/status.h"
#include "ringcast/pusher/query.h"
#include "ringcast/pusher/shared_counters.h"

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ringcast::api {

enum class endpoint : std::uint8_t {
    events,                // POST events
    batch_events,          // POST batch_events
    channels,              // GET channels
    channel,               // GET channels/{name}
    users,                 // GET channels/{name}/users
    terminate_connections, // POST users/{id}/terminate_connections
    connections,           // GET connections (Reverb's, for Laravel Pulse)
};

// Which endpoint a path names, with the names it carries (percent-decoded).
struct route {
    endpoint which = endpoint::channels;
    std::string_view method = "GET"; // the one method it takes
    std::string channel;             // channel, users
    std::string user;                // terminate_connections
};

// The endpoint of `path`, what follows /apps/{app_id} ("/events", "/channels/x/users"); an
// unknown one is a 404.
[[nodiscard]] core::result<route> find_route(std::string_view path);
// A 405 ("use POST") unless `method` is the route's.
[[nodiscard]] core::status check_method(const route& r, std::string_view method);

// Where an app's channels live: the number of shards, and each channel's owner shard; in a
// cluster, the bridge (whose answers come from Redis, for the whole cluster).
struct shard_map {
    unsigned count = 1;
    std::function<unsigned(std::string_view channel)> owner_of;
    int bridge = -1;
};

struct request {
    route target;
    auth::params query; // decoded, in the order sent
    std::string_view body;
    std::uint32_t app = 0;                    // index into the server's apps
    const config::app* config = nullptr;      // that app
    shard_map shards;                         //
    simdjson::dom::parser* json = nullptr;    // parses events bodies
    pusher::app_counters* counters = nullptr; // the app's API rates (null: not limited)
    std::uint32_t now_s = 0;                  // unix seconds, for the rates
    // In a cluster the rates are the cluster's, counted in Redis: nothing is taken from
    // `counters`, the outcome's gate says what to take instead.
    bool shared_rates = false;
};

// An answer ready now.
struct response {
    int status = 200;
    std::string body; // JSON
};

// The replies to a plan's queries, merged in arrival order.
struct replies {
    std::vector<pusher::channel_summary> channels;
    std::vector<std::string> users;
    std::uint64_t count = 0;
    void add(pusher::query_reply_mail& r);
};

using query_list = std::vector<std::pair<unsigned, std::unique_ptr<pusher::query_mail>>>;

// An answer that needs other shards: each query goes to its shard (the sender fills in id and
// reply_to); once all have replied, `finish` builds the 200 response's JSON body.
struct plan {
    query_list queries;
    std::function<std::string(replies&)> finish;
};

// What an outcome needs from the cluster's allowance before it is carried out (request::
// shared_rates): `amount` read requests or published events under `limit` per second, else a
// 429 with `message`.
struct rate_gate {
    bool reads = false;
    std::uint32_t amount = 0;
    std::uint32_t limit = 0;
    std::string message;
};

struct outcome {
    std::variant<response, plan> answer;
    // Published (api::publish) after the response is queued, before the plan's queries are sent.
    std::vector<event_request> publish;
    std::optional<rate_gate> gate;
};

// Runs r.target's endpoint after the app-wide checks: a disabled app is a 403, a GET over
// max_read_requests_per_second a 429.
[[nodiscard]] core::result<outcome> handle(const request& r);

// The endpoints handle() dispatches to (after the read-rate check). A failure's code is the
// HTTP status.
[[nodiscard]] core::result<outcome> dispatch(const request& r);
[[nodiscard]] core::result<outcome> post_events(const request& r); // events and batch_events
[[nodiscard]] core::result<outcome> get_channels(const request& r);
[[nodiscard]] core::result<outcome> get_channel(const request& r);
[[nodiscard]] core::result<outcome> get_users(const request& r);
[[nodiscard]] core::result<outcome> terminate_connections(const request& r);
[[nodiscard]] core::result<outcome> get_connections(const request& r);

} // namespace ringcast::api
