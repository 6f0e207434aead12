// Plain HTTP routes: the health check and the Pusher HTTP API (all under the --path prefix).
#include "ringcast/api/channels.h"
#include "ringcast/api/events.h"
#include "ringcast/api/signature.h"
#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/http/response.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/server/connection_handler.h"

#include <map>

namespace ringcast::server {

namespace {
using query_list = std::vector<std::pair<unsigned, std::unique_ptr<pusher::query_mail>>>;

std::unique_ptr<pusher::query_mail> make_query(pusher::query_kind kind, std::uint32_t app) {
    auto q = std::make_unique<pusher::query_mail>();
    q->kind = kind;
    q->app = app;
    return q;
}

// One question to every shard (for answers only the sum of all shards can give).
query_list ask_all(unsigned shards, pusher::query_kind kind, std::uint32_t app, std::string prefix = {},
                   std::vector<std::string> names = {}) {
    query_list out;
    for (unsigned s = 0; s < shards; ++s) {
        auto q = make_query(kind, app);
        q->prefix = prefix;
        q->names = names;
        out.emplace_back(s, std::move(q));
    }
    return out;
}

const std::string* param(const api::params& q, std::string_view key) {
    for (const auto& [k, v] : q) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}
} // namespace

void connection_handler::handle_request(shard::conn& c, state& st, http::request req) {
    const bool keep = req.keep_alive;
    RC_LOG_DEBUG("http %s %s", req.method.c_str(), req.target.c_str());
    std::string_view route;
    if (!strip_prefix(req.path(), route)) {
        reply(c, st, http::json_error(404, "Not found: every route is under " + settings_->path, keep), keep);
        return;
    }
    if (route == "/up") {
        if (req.method != "GET" && req.method != "HEAD") {
            reply(c, st, http::json_error(405, "Method not allowed: use GET", keep, "Allow: GET\r\n"), keep);
            return;
        }
        reply(c, st, http::json_response(200, R"({"health":"OK"})", keep), keep);
        return;
    }
    if (route.starts_with("/app/")) {
        reply(c, st,
              http::json_error(426, "This is a WebSocket endpoint: connect with a Pusher client (ws://)",
                               keep, "Upgrade: websocket\r\n"),
              keep);
        return;
    }
    if (!route.starts_with("/apps/")) {
        reply(c, st, http::json_error(404, "Not found", keep), keep);
        return;
    }
    // /apps/{app_id}/{endpoint...}
    std::string_view rest = route.substr(6);
    size_t slash = rest.find('/');
    std::string_view app_id = rest.substr(0, slash);
    std::string_view endpoint = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    int app = ctx_.find_app_by_id(app_id);
    if (app < 0) {
        reply(c, st, http::json_error(404, "No app with id \"" + std::string(app_id) + "\"", keep), keep);
        return;
    }
    handle_api(c, st, req, static_cast<std::uint32_t>(app), endpoint);
}

void connection_handler::handle_api(shard::conn& c, state& st, const http::request& req, std::uint32_t app,
                                    std::string_view endpoint) {
    const bool keep = req.keep_alive;
    const config::app& a = settings_->apps[app];
    auto fail = [&](int status, const std::string& message, std::string_view extra = {}) {
        reply(c, st, http::json_error(status, message, keep, extra), keep);
    };

    // Which endpoint, and which method it takes.
    enum class ep { events, batch_events, channels, channel, users, terminate, connections } which;
    std::string channel;
    std::string user;
    const char* method = "GET";
    if (endpoint == "/events") {
        which = ep::events;
        method = "POST";
    } else if (endpoint == "/batch_events") {
        which = ep::batch_events;
        method = "POST";
    } else if (endpoint == "/channels") {
        which = ep::channels;
    } else if (endpoint == "/connections") {
        which = ep::connections;
    } else if (endpoint.starts_with("/channels/")) {
        std::string_view tail = endpoint.substr(10);
        which = ep::channel;
        if (tail.ends_with("/users")) {
            which = ep::users;
            tail.remove_suffix(6);
        }
        auto decoded = http::percent_decode(tail);
        if (!decoded || decoded->empty() || decoded->find('/') != std::string::npos) {
            fail(404, "Not found: unknown API endpoint " + std::string(endpoint));
            return;
        }
        channel = std::move(*decoded);
    } else if (endpoint.starts_with("/users/") && endpoint.ends_with("/terminate_connections")) {
        auto decoded = http::percent_decode(endpoint.substr(7, endpoint.size() - 7 - 22));
        if (!decoded || decoded->empty()) {
            fail(404, "Not found: unknown API endpoint " + std::string(endpoint));
            return;
        }
        user = std::move(*decoded);
        which = ep::terminate;
        method = "POST";
    } else {
        fail(404, "Not found: unknown API endpoint " + std::string(endpoint));
        return;
    }
    if (req.method != method) {
        fail(405, std::string("Method not allowed: use ") + method, std::string("Allow: ") + method + "\r\n");
        return;
    }

    auto query = http::parse_query(req.query());
    if (!query) {
        fail(400, "Malformed query string");
        return;
    }
    if (auto err =
            api::verify(a, req.method, req.path(), settings_->path, *query, req.body, core::unix_seconds())) {
        RC_LOG_DEBUG("http %d: %s", err.status, err.message.c_str());
        fail(err.status, err.message);
        return;
    }
    if (!a.enabled) {
        fail(403, "Application disabled");
        return;
    }
    pusher::app_counters& counters = ctx_.counters().app(app);
    auto now_s = static_cast<std::uint32_t>(core::unix_seconds());
    if (std::string_view(method) == "GET" &&
        !pusher::shared_counters::take(counters.read_requests, now_s, 1, a.max_read_requests_per_second)) {
        fail(429, "Too many requests: app " + a.id + " allows " +
                      std::to_string(a.max_read_requests_per_second) + " read requests per second");
        return;
    }

    const unsigned shards = shard_.count();
    switch (which) {
    case ep::events:
    case ep::batch_events: {
        std::vector<api::event_request> events;
        api::api_error err;
        if (which == ep::events) {
            events.emplace_back();
            err = api::parse_event(ctx_.json(), req.body, a, events.back());
        } else {
            err = api::parse_batch(ctx_.json(), req.body, a, events);
        }
        std::vector<api::info_request> infos(events.size());
        for (size_t i = 0; !err && i < events.size(); ++i) {
            err = api::parse_info(events[i].info, infos[i]);
        }
        if (err) {
            fail(err.status, err.message);
            return;
        }
        if (!pusher::shared_counters::take(counters.backend_events, now_s,
                                           static_cast<std::uint32_t>(events.size()),
                                           a.max_backend_events_per_second)) {
            fail(429, "Too many events: app " + a.id + " allows " +
                          std::to_string(a.max_backend_events_per_second) + " published events per second");
            return;
        }
        bool any_info = false;
        for (const auto& i : infos) {
            any_info = any_info || i.user_count || i.subscription_count;
        }
        if (!any_info) {
            // Answer first: the reply is then the first send of this loop iteration, ahead of the
            // fan-out's, so the publisher is not kept waiting behind thousands of subscribers.
            reply(c, st, http::json_response(200, "{}", keep), keep);
        }
        for (const api::event_request& ev : events) {
            (void)api::publish_event(ctx_, app, ev);
        }
        if (!any_info) {
            return;
        }
        // Counts come from each channel's owner, asked after the publish was queued.
        std::map<unsigned, std::unique_ptr<pusher::query_mail>> by_owner;
        for (const api::event_request& ev : events) {
            for (const std::string& ch : ev.channels) {
                auto& q = by_owner[ctx_.owner_of(app, ch)];
                if (!q) {
                    q = make_query(pusher::query_kind::channels, app);
                }
                q->names.push_back(ch);
            }
        }
        query_list queries;
        for (auto& [owner, q] : by_owner) {
            queries.emplace_back(owner, std::move(q));
        }
        bool batch = which == ep::batch_events;
        gather(c, st, keep, std::move(queries), [events = std::move(events), infos, batch](pending_query& p) {
            auto summary_of = [&](const std::string& name) {
                for (const auto& s : p.channels) {
                    if (s.name == name) {
                        return s;
                    }
                }
                return pusher::channel_summary{name};
            };
            if (!batch) {
                std::string out = "{\"channels\":{";
                for (size_t i = 0; i < events[0].channels.size(); ++i) {
                    const std::string& name = events[0].channels[i];
                    out += (i ? ",\"" : "\"") + name + "\":" + api::counts_json(summary_of(name), infos[0]);
                }
                return out + "}}";
            }
            std::string out = "{\"batch\":[";
            for (size_t i = 0; i < events.size(); ++i) {
                out += i ? "," : "";
                bool want = infos[i].user_count || infos[i].subscription_count;
                out += want ? api::counts_json(summary_of(events[i].channels.front()), infos[i]) : "{}";
            }
            return out + "]}";
        });
        return;
    }
    case ep::channels: {
        api::info_request info;
        const std::string* info_text = param(*query, "info");
        const std::string* prefix = param(*query, "filter_by_prefix");
        if (auto err = api::parse_info(info_text ? *info_text : "", info)) {
            fail(err.status, err.message);
            return;
        }
        if (info.user_count && (prefix == nullptr || !prefix->starts_with("presence-"))) {
            fail(400, "info=user_count is only available with filter_by_prefix=presence-");
            return;
        }
        if (info.cache) {
            fail(400, "info=cache is only available for a single channel");
            return;
        }
        gather(c, st, keep, ask_all(shards, pusher::query_kind::channel_list, app, prefix ? *prefix : ""),
               [info](pending_query& p) { return api::channel_list_json(std::move(p.channels), info); });
        return;
    }
    case ep::channel: {
        api::info_request info;
        const std::string* info_text = param(*query, "info");
        if (auto err = api::parse_info(info_text ? *info_text : "", info)) {
            fail(err.status, err.message);
            return;
        }
        if (std::string why = pusher::check_channel_name(channel, a.max_channel_name_length); !why.empty()) {
            fail(400, why);
            return;
        }
        pusher::channel_kind kind = pusher::kind_of(channel);
        if (info.user_count && !pusher::is_presence(kind)) {
            fail(400, "info=user_count applies to presence channels only");
            return;
        }
        if (info.subscription_count && pusher::is_presence(kind)) {
            fail(400, "info=subscription_count applies to non-presence channels; use user_count");
            return;
        }

        if (info.cache && !pusher::is_cache(kind)) {
            fail(400, "info=cache applies to cache channels only");
            return;
        }
        query_list queries;
        auto q = make_query(pusher::query_kind::channels, app);
        q->names.push_back(channel);
        queries.emplace_back(ctx_.owner_of(app, channel), std::move(q));
        gather(c, st, keep, std::move(queries), [info, channel](pending_query& p) {
            return api::channel_json(
                p.channels.empty() ? pusher::channel_summary{channel} : p.channels.front(), info);
        });
        return;
    }
    case ep::users: {
        if (!pusher::is_presence(pusher::kind_of(channel))) {
            fail(400, "Users can only be listed for presence channels; " + channel + " is not one");
            return;
        }
        query_list queries;
        auto q = make_query(pusher::query_kind::members, app);
        q->names.push_back(channel);
        queries.emplace_back(ctx_.owner_of(app, channel), std::move(q));
        gather(c, st, keep, std::move(queries), [](pending_query& p) { return api::users_json(p.users); });
        return;
    }
    case ep::terminate:
        gather(c, st, keep, ask_all(shards, pusher::query_kind::terminate_user, app, {}, {user}),
               [](pending_query&) { return std::string("{}"); });
        return;
    case ep::connections:
        gather(c, st, keep, ask_all(shards, pusher::query_kind::connections, app),
               [](pending_query& p) { return "{\"connections\":" + std::to_string(p.count) + "}"; });
        return;
    }
}

void connection_handler::gather(shard::conn& c, state& st, bool keep_alive, query_list queries,
                                std::function<std::string(pending_query&)> finish) {
    std::uint64_t id = next_query_++;
    pending_query& p = pending_[id];
    p.conn = c.id();
    p.keep_alive = keep_alive;
    p.awaiting = static_cast<unsigned>(queries.size());
    p.finish = std::move(finish);
    st.waiting = true;
    for (auto& [target, q] : queries) {
        q->id = id;
        q->reply_to = shard_.index();
        shard_.post(target, std::move(q));
    }
    if (p.awaiting == 0) {
        pusher::query_reply_mail none;
        none.id = id;
        ++p.awaiting;
        on_query_reply(none);
    }
}

void connection_handler::on_query_reply(pusher::query_reply_mail& r) {
    auto it = pending_.find(r.id);
    if (it == pending_.end()) {
        return;
    }
    pending_query& p = it->second;
    for (auto& ch : r.channels) {
        p.channels.push_back(std::move(ch));
    }
    for (auto& u : r.users) {
        p.users.push_back(std::move(u));
    }
    p.count += r.count;
    if (--p.awaiting != 0) {
        return;
    }
    std::string body = p.finish(p);
    bool keep = p.keep_alive;
    shard::conn* c = shard_.find(p.conn);
    pending_.erase(it);
    // A connection waiting for an answer parses nothing more, so it cannot have upgraded; the
    // cast only guards against a broken invariant (this path is once per API request).
    auto* st = c == nullptr ? nullptr : dynamic_cast<state*>(c->state.get());
    if (st == nullptr) {
        return; // the client went away while we were gathering
    }
    st->waiting = false;
    reply(*c, *st, http::json_response(200, body, keep), keep);
    if (!st->backlog.empty() && !st->discard) {
        std::string rest = std::move(st->backlog);
        st->backlog.clear();
        feed_http(*c, *st, rest);
    }
}

} // namespace ringcast::server
