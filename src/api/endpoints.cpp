// Each HTTP API endpoint: validation and messages first, then the answer or the plan of
// owner-shard queries that produces it.
#include "ringcast/api/endpoints.h"

#include "ringcast/core/json_writer.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/channel_name.h"

#include <map>

namespace ringcast::api {

namespace {
core::status bad_request(std::string message) {
    return core::failure(std::move(message), 400);
}

std::unique_ptr<pusher::query_mail> make_query(pusher::query_kind kind, std::uint32_t app) {
    auto q = std::make_unique<pusher::query_mail>();
    q->kind = kind;
    q->app = app;
    return q;
}

// One question to a channel's owner (in a cluster, to the bridge).
query_list ask_owner(const request& r, pusher::query_kind kind, const std::string& channel) {
    auto q = make_query(kind, r.app);
    q->names.push_back(channel);
    query_list out;
    unsigned to = r.shards.bridge >= 0 ? static_cast<unsigned>(r.shards.bridge) : r.shards.owner_of(channel);
    out.emplace_back(to, std::move(q));
    return out;
}

// One question to every shard (for answers only the sum of all shards can give), or in a
// cluster to the bridge, which has Redis sum every node's. Closing a user's connections is
// always this node's shards' own work (the other nodes hear of it over Redis).
query_list ask_all(const request& r, pusher::query_kind kind, std::string prefix = {},
                   std::vector<std::string> names = {}) {
    query_list out;
    if (r.shards.bridge >= 0 && kind != pusher::query_kind::terminate_user) {
        auto q = make_query(kind, r.app);
        q->prefix = std::move(prefix);
        q->names = std::move(names);
        out.emplace_back(static_cast<unsigned>(r.shards.bridge), std::move(q));
        return out;
    }
    for (unsigned s = 0; s < r.shards.count; ++s) {
        auto q = make_query(kind, r.app);
        q->prefix = prefix;
        q->names = names;
        out.emplace_back(s, std::move(q));
    }
    return out;
}

outcome answer(query_list queries, std::function<std::string(replies&)> finish) {
    return outcome{plan{std::move(queries), std::move(finish)}, {}};
}

const std::string* param(const auth::params& q, std::string_view key) {
    for (const auto& [k, v] : q) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}

core::result<info_request> info_param(const request& r) {
    const std::string* text = param(r.query, "info");
    return parse_info(text ? *text : "");
}

core::status unknown(std::string_view path) {
    return core::failure("Not found: unknown API endpoint " + std::string(path), 404);
}

bool wants_counts(const info_request& info) {
    return info.user_count || info.subscription_count;
}

// After a publish with info=: the counts come from each channel's owner, asked after the
// publish was queued. `names` are the channels answered about (an event's channels, or the
// first channel of each batch entry).
plan counts_plan(const request& r, const std::vector<event_request>& events,
                 std::vector<info_request> infos) {
    std::map<unsigned, std::unique_ptr<pusher::query_mail>> by_owner;
    for (const event_request& ev : events) {
        for (const std::string& ch : ev.channels) {
            auto& q = by_owner[r.shards.bridge >= 0 ? static_cast<unsigned>(r.shards.bridge)
                                                    : r.shards.owner_of(ch)];
            if (!q) {
                q = make_query(pusher::query_kind::channels, r.app);
            }
            q->names.push_back(ch);
        }
    }
    plan p;
    for (auto& [owner, q] : by_owner) {
        p.queries.emplace_back(owner, std::move(q));
    }
    bool batch = r.target.which == endpoint::batch_events;
    std::vector<std::string> names;
    for (const event_request& ev : events) {
        if (!batch) {
            names = ev.channels;
            break;
        }
        names.push_back(ev.channels.front());
    }
    p.finish = [names = std::move(names), infos = std::move(infos), batch](replies& got) {
        auto summary_of = [&](const std::string& name) {
            for (const auto& s : got.channels) {
                if (s.name == name) {
                    return s;
                }
            }
            return pusher::channel_summary{name};
        };
        std::string out = batch ? "{\"batch\":[" : "{\"channels\":{";
        for (size_t i = 0; i < names.size(); ++i) {
            out += i ? "," : "";
            if (batch) {
                out += wants_counts(infos[i]) ? counts_json(summary_of(names[i]), infos[i]) : "{}";
            } else {
                core::append_json_string(out, names[i]);
                out += ':';
                out += counts_json(summary_of(names[i]), infos[0]);
            }
        }
        return out + (batch ? "]}" : "}}");
    };
    return p;
}
} // namespace

void replies::add(pusher::query_reply_mail& r) {
    for (auto& ch : r.channels) {
        channels.push_back(std::move(ch));
    }
    for (auto& u : r.users) {
        users.push_back(std::move(u));
    }
    count += r.count;
}

core::result<route> find_route(std::string_view path) {
    route r;
    if (path == "/events" || path == "/batch_events") {
        r.which = path == "/events" ? endpoint::events : endpoint::batch_events;
        r.method = "POST";
    } else if (path == "/channels") {
        r.which = endpoint::channels;
    } else if (path == "/connections") {
        r.which = endpoint::connections;
    } else if (path.starts_with("/channels/")) {
        std::string_view tail = path.substr(10);
        r.which = endpoint::channel;
        if (tail.ends_with("/users")) {
            r.which = endpoint::users;
            tail.remove_suffix(6);
        }
        auto decoded = http::percent_decode(tail);
        if (!decoded || decoded->empty() || decoded->find('/') != std::string::npos) {
            return unknown(path);
        }
        r.channel = std::move(*decoded);
    } else if (path.starts_with("/users/") && path.ends_with("/terminate_connections")) {
        auto decoded = http::percent_decode(path.substr(7, path.size() - 7 - 22));
        if (!decoded || decoded->empty()) {
            return unknown(path);
        }
        r.which = endpoint::terminate_connections;
        r.method = "POST";
        r.user = std::move(*decoded);
    } else {
        return unknown(path);
    }
    return r;
}

core::status check_method(const route& r, std::string_view method) {
    if (method != r.method) {
        return core::failure("Method not allowed: use " + std::string(r.method), 405);
    }
    return core::ok();
}

core::result<outcome> handle(const request& r) {
    const config::app& a = *r.config;
    if (!a.enabled) {
        return core::failure("Application disabled", 403);
    }
    std::string too_many = "Too many requests: app " + a.id + " allows " +
                           std::to_string(a.max_read_requests_per_second) + " read requests per second";
    std::optional<rate_gate> gate;
    if (r.target.method == "GET" && a.max_read_requests_per_second != 0 && r.shared_rates) {
        gate = rate_gate{true, 1, a.max_read_requests_per_second, std::move(too_many)};
    } else if (r.target.method == "GET" && r.counters != nullptr &&
               !pusher::shared_counters::take(r.counters->read_requests, r.now_s, 1,
                                              a.max_read_requests_per_second)) {
        return core::failure(std::move(too_many), 429);
    }
    auto out = dispatch(r);
    if (out && gate) {
        out->gate = std::move(gate);
    }
    return out;
}

core::result<outcome> dispatch(const request& r) {
    switch (r.target.which) {
    case endpoint::events:
    case endpoint::batch_events:
        return post_events(r);
    case endpoint::channels:
        return get_channels(r);
    case endpoint::channel:
        return get_channel(r);
    case endpoint::users:
        return get_users(r);
    case endpoint::terminate_connections:
        return terminate_connections(r);
    case endpoint::connections:
        return get_connections(r);
    }
    return unknown("");
}

core::result<outcome> post_events(const request& r) {
    const config::app& a = *r.config;
    std::vector<event_request> events;
    if (r.target.which == endpoint::batch_events) {
        auto batch = parse_batch(*r.json, r.body, a);
        if (!batch) {
            return batch.error();
        }
        events = std::move(*batch);
    } else {
        auto event = parse_event(*r.json, r.body, a);
        if (!event) {
            return event.error();
        }
        events.push_back(std::move(*event));
    }
    std::vector<info_request> infos;
    bool any_info = false;
    for (const event_request& ev : events) {
        auto info = parse_info(ev.info);
        if (!info) {
            return info.error();
        }
        any_info = any_info || wants_counts(*info);
        infos.push_back(*info);
    }
    std::string too_many = "Too many events: app " + a.id + " allows " +
                           std::to_string(a.max_backend_events_per_second) + " published events per second";
    auto amount = static_cast<std::uint32_t>(events.size());
    std::optional<rate_gate> gate;
    if (r.shared_rates && a.max_backend_events_per_second != 0) {
        gate = rate_gate{false, amount, a.max_backend_events_per_second, std::move(too_many)};
    } else if (r.counters != nullptr &&
               !pusher::shared_counters::take(r.counters->backend_events, r.now_s, amount,
                                              a.max_backend_events_per_second)) {
        return core::failure(std::move(too_many), 429);
    }
    if (!any_info) {
        // Answered first: the reply is then queued ahead of the fan-out, so the publisher is
        // not kept waiting behind thousands of subscribers.
        return outcome{response{200, "{}"}, std::move(events), std::move(gate)};
    }
    plan p = counts_plan(r, events, std::move(infos));
    return outcome{std::move(p), std::move(events), std::move(gate)};
}

core::result<outcome> get_channels(const request& r) {
    auto info = info_param(r);
    if (!info) {
        return info.error();
    }
    const std::string* prefix = param(r.query, "filter_by_prefix");
    if (info->user_count && (prefix == nullptr || !prefix->starts_with("presence-"))) {
        return bad_request("info=user_count is only available with filter_by_prefix=presence-");
    }
    if (info->cache) {
        return bad_request("info=cache is only available for a single channel");
    }
    return answer(ask_all(r, pusher::query_kind::channel_list, prefix ? *prefix : ""),
                  [info = *info](replies& got) { return channel_list_json(std::move(got.channels), info); });
}

core::result<outcome> get_channel(const request& r) {
    auto info = info_param(r);
    if (!info) {
        return info.error();
    }
    const std::string& channel = r.target.channel;
    if (core::status name = pusher::check_channel_name(channel, r.config->max_channel_name_length); !name) {
        return bad_request(name.message());
    }
    pusher::channel_kind kind = pusher::kind_of(channel);
    if (info->user_count && !pusher::is_presence(kind)) {
        return bad_request("info=user_count applies to presence channels only");
    }
    if (info->subscription_count && pusher::is_presence(kind)) {
        return bad_request("info=subscription_count applies to non-presence channels; use user_count");
    }
    if (info->cache && !pusher::is_cache(kind)) {
        return bad_request("info=cache applies to cache channels only");
    }
    return answer(ask_owner(r, pusher::query_kind::channels, channel), [info = *info, channel](replies& got) {
        return channel_json(got.channels.empty() ? pusher::channel_summary{channel} : got.channels.front(),
                            info);
    });
}

core::result<outcome> get_users(const request& r) {
    const std::string& channel = r.target.channel;
    if (!pusher::is_presence(pusher::kind_of(channel))) {
        return bad_request("Users can only be listed for presence channels; " + channel + " is not one");
    }
    return answer(ask_owner(r, pusher::query_kind::members, channel),
                  [](replies& got) { return users_json(got.users); });
}

core::result<outcome> terminate_connections(const request& r) {
    return answer(ask_all(r, pusher::query_kind::terminate_user, {}, {r.target.user}),
                  [](replies&) { return std::string("{}"); });
}

core::result<outcome> get_connections(const request& r) {
    return answer(ask_all(r, pusher::query_kind::connections),
                  [](replies& got) { return "{\"connections\":" + std::to_string(got.count) + "}"; });
}

} // namespace ringcast::api
