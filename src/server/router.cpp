// Plain HTTP routes: the health check and the Pusher HTTP API (all under the --path prefix). The
// API's endpoints are in api/ (endpoints.h); this file routes to them, checks the signature,
// sends their queries to other shards and writes the answers.
#include "ringcast/api/endpoints.h"
#include "ringcast/auth/signature.h"
#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/http/response.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/cluster_mail.h"
#include "ringcast/server/connection_handler.h"

namespace ringcast::server {

// http_route names the API's endpoints in api::endpoint's order, so one converts to the other.
static_assert(static_cast<int>(http_route::events) == static_cast<int>(api::endpoint::events) &&
              static_cast<int>(http_route::connections) == static_cast<int>(api::endpoint::connections));

void connection_handler::handle_request(state& st, http::request req) {
    // A stopping server answers what it has been asked and closes (see on_finish_up).
    req.keep_alive = req.keep_alive && !shard_.stopping();
    const bool keep = req.keep_alive;
    if (!core::debug_filtered()) {
        RC_LOG_DEBUG("http %s %s", req.method.c_str(), req.target.c_str());
    }
    if (st.metrics_only) {
        serve_scrape(st, req);
        return;
    }
    st.request_ns = core::monotonic_ns();
    st.route = http_route::other;
    st.api_app = -1;
    if (serve_console(st, req)) {
        return;
    }
    std::string_view route;
    if (!strip_prefix(req.path(), route)) {
        reply(st, http::json_error(404, "Not found: every route is under " + settings().path, keep), keep);
        return;
    }
    if (route == "/up") {
        st.route = http_route::up;
        if (req.method != "GET" && req.method != "HEAD") {
            reply(st, http::json_error(405, "Method not allowed: use GET", keep, "Allow: GET\r\n"), keep);
            return;
        }
        // A node without Redis still serves its own clients, so it stays healthy; the body says
        // whether it hears the other nodes.
        const char* body = !settings().redis.enabled ? R"({"health":"OK"})"
                           : ctx_.counters().redis_down.load(std::memory_order_relaxed)
                               ? R"({"health":"OK","redis":"down"})"
                               : R"({"health":"OK","redis":"up"})";
        reply(st, http::json_response(200, body, keep), keep);
        return;
    }
    if (route.starts_with("/app/")) {
        reply(st,
              http::json_error(426, "This is a WebSocket endpoint: connect with a Pusher client (ws://)",
                               keep, "Upgrade: websocket\r\n"),
              keep);
        return;
    }
    if (!route.starts_with("/apps/")) {
        reply(st, http::json_error(404, "Not found", keep), keep);
        return;
    }
    // /apps/{app_id}/{endpoint...}
    std::string_view rest = route.substr(6);
    size_t slash = rest.find('/');
    std::string_view app_id = rest.substr(0, slash);
    std::string_view endpoint = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    int app = ctx_.find_app_by_id(app_id);
    if (app < 0) {
        reply(st, http::json_error(404, "No app with id \"" + std::string(app_id) + "\"", keep), keep);
        return;
    }
    dispatch_api(st, req, static_cast<std::uint32_t>(app), endpoint);
}

void connection_handler::dispatch_api(state& st, const http::request& req, std::uint32_t app,
                                      std::string_view endpoint, bool console) {
    const bool keep = req.keep_alive;
    const config::app& a = settings().apps[app];
    pusher::app_metrics& per_app = ctx_.stats().app(app);
    per_app.http_calls.add();
    per_app.http_bytes_received.add(req.body.size());
    st.api_app = static_cast<int>(app);
    auto fail = [&](const core::status& why, std::string_view extra = {}) {
        if (!core::debug_filtered()) {
            RC_LOG_DEBUG("http %d: %s", why.code(), why.message().c_str());
        }
        reply(st, http::json_error(why.code(), why.message(), keep, extra), keep);
    };
    auto target = api::find_route(endpoint);
    if (!target) {
        fail(target.error());
        return;
    }
    st.route = static_cast<http_route>(target->which); // the same order
    if (auto allowed = api::check_method(*target, req.method); !allowed) {
        fail(allowed, "Allow: " + std::string(target->method) + "\r\n");
        return;
    }
    auto query = http::parse_query(req.query());
    if (!query) {
        fail(core::failure("Malformed query string", 400));
        return;
    }
    if (auto signed_ok = console ? core::ok()
                                 : auth::verify({a.id, a.key, a.secret}, req.method, req.path(),
                                                settings().path, *query, req.body, core::unix_seconds());
        !signed_ok) {
        // A publisher with the wrong secret or clock: the message says which (and, for a wrong
        // signature, what should have been signed).
        RC_LOG_INFO("auth failure: HTTP API %s %s for app %s: %s", req.method.c_str(),
                    std::string(endpoint).c_str(), a.id.c_str(), signed_ok.message().c_str());
        fail(signed_ok);
        return;
    }
    api::request r{.target = std::move(*target),
                   .query = std::move(*query),
                   .body = req.body,
                   .app = app,
                   .config = &a,
                   .shards = {shard_.count(),
                              [this, app](std::string_view ch) { return ctx_.owner_of(app, ch); },
                              shard_.bridge()},
                   .json = &ctx_.json(),
                   .counters = &ctx_.counters().app(app),
                   .now_s = static_cast<std::uint32_t>(core::unix_seconds()),
                   .shared_rates = shard_.bridge() >= 0};
    auto out = api::handle(r);
    if (!out) {
        fail(out.error());
        return;
    }
    if (out->gate) {
        hold_at_gate(st, keep, app, r.target, std::move(*out));
        return;
    }
    carry_out(st, keep, app, r.target, std::move(*out));
}

void connection_handler::count_answer(state& st, std::string_view response) {
    // "HTTP/1.1 200 ...": every response here is built by http::response.
    int status = 0;
    for (std::size_t i = 9; i < 12 && i < response.size(); ++i) {
        status = status * 10 + (response[i] - '0');
    }
    std::uint64_t took = st.request_ns != 0 ? core::monotonic_ns() - st.request_ns : 0;
    http_stats_.answered(st.route, status, took);
    if (st.api_app >= 0) {
        ctx_.stats().app(static_cast<std::size_t>(st.api_app)).http_bytes_sent.add(response.size());
    }
    st.request_ns = 0;
    st.route = http_route::other;
    st.api_app = -1;
}

void connection_handler::serve_scrape(state& st, const http::request& req) {
    const bool keep = req.keep_alive;
    if (req.path() != "/metrics") {
        reply(st, http::json_error(404, "Not found: this port serves GET /metrics only", keep), keep);
    } else if (req.method != "GET") {
        reply(st, http::json_error(405, "Method not allowed: use GET", keep, "Allow: GET\r\n"), keep);
    } else {
        reply(st,
              http::response(200, "text/plain; version=0.0.4; charset=utf-8",
                             scrape(scrape_from_, settings()), keep),
              keep);
    }
}

void connection_handler::carry_out(state& st, bool keep, std::uint32_t app, const api::route& target,
                                   api::outcome out) {
    if (!out.publish.empty() && settings().redis.enabled &&
        ctx_.counters().redis_down.load(std::memory_order_relaxed)) {
        // Published here but not on the other nodes would be a 200 for a half-delivered event.
        reply(st,
              http::json_error(503,
                               "Redis is unreachable, so the event cannot reach the other nodes; nothing "
                               "was published, try again",
                               keep, "Retry-After: 1\r\n"),
              keep);
        return;
    }
    auto* now = std::get_if<api::response>(&out.answer);
    if (now != nullptr && now->status == 200 && !out.publish.empty() && settings().redis.enabled) {
        publish_shared(st, keep, app, out.publish, std::move(now->body));
        return;
    }
    if (now != nullptr) {
        reply(st, http::json_response(now->status, now->body, keep), keep);
    }
    api::publish(ctx_, app, out.publish);
    if (auto* later = std::get_if<api::plan>(&out.answer)) {
        send_plan(st, keep, std::move(*later));
    }
    if (target.which == api::endpoint::terminate_connections) {
        ctx_.terminate_elsewhere(app, target.user); // this node's shards are in the plan
    }
}

void connection_handler::hold_at_gate(state& st, bool keep, std::uint32_t app, const api::route& target,
                                      api::outcome out) {
    std::uint64_t id = next_query_++;
    auto ask = std::make_unique<pusher::rate_mail>();
    ask->id = id;
    ask->reply_to = shard_.index();
    ask->app = app;
    ask->reads = out.gate->reads;
    ask->amount = out.gate->amount;
    ask->limit = out.gate->limit;
    gates_.emplace(id, gated_request{st.conn.id(), keep, app, target, std::move(out)});
    st.waiting = true;
    shard_.post(static_cast<unsigned>(shard_.bridge()), std::move(ask));
}

// The bridge's answer to a rate check: the request is carried out, or refused as on one node.
void connection_handler::on_gate_reply(gated_request g, const pusher::query_reply_mail& r) {
    shard::conn* c = shard_.find(g.conn);
    auto* st = c == nullptr ? nullptr : dynamic_cast<state*>(c->state.get());
    if (st == nullptr) {
        return; // the client went away meanwhile
    }
    st->waiting = false;
    if (r.failed) {
        int status = r.status != 0 ? r.status : 503;
        const std::string& why = r.status != 0 ? g.out.gate->message : r.error;
        reply(*st, http::json_error(status, why, g.keep_alive, status == 503 ? "Retry-After: 1\r\n" : ""),
              g.keep_alive);
    } else {
        carry_out(*st, g.keep_alive, g.app, g.target, std::move(g.out));
    }
    resume(*st);
}

void connection_handler::resume(state& st) {
    if (!st.waiting && !st.backlog.empty() && !st.discard) {
        std::string rest = std::move(st.backlog);
        st.backlog.clear();
        feed_http(st, rest);
    }
}

void connection_handler::publish_shared(state& st, bool keep_alive, std::uint32_t app,
                                        const std::vector<api::event_request>& events, std::string body) {
    std::uint64_t id = next_query_++;
    pending_query& p = pending_[id];
    p.conn = st.conn.id();
    p.keep_alive = keep_alive;
    p.finish = [body = std::move(body)](api::replies&) { return body; };
    st.waiting = true;
    p.awaiting = api::publish(ctx_, app, events, id) + 1;
    // The extra count is this reply, so an answer comes even when nothing went to the bridge.
    pusher::query_reply_mail self;
    self.id = id;
    on_query_reply(self);
}

void connection_handler::send_plan(state& st, bool keep_alive, api::plan plan) {
    std::uint64_t id = next_query_++;
    pending_query& p = pending_[id];
    p.conn = st.conn.id();
    p.keep_alive = keep_alive;
    p.awaiting = static_cast<unsigned>(plan.queries.size());
    p.finish = std::move(plan.finish);
    st.waiting = true;
    for (auto& [target, q] : plan.queries) {
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
    if (on_console_reply(r)) {
        return;
    }
    if (auto admitted = admissions_.find(r.id); admitted != admissions_.end()) {
        admission a = admitted->second;
        admissions_.erase(admitted);
        on_admission(a, r);
        return;
    }
    if (auto gate = gates_.find(r.id); gate != gates_.end()) {
        gated_request g = std::move(gate->second);
        gates_.erase(gate);
        on_gate_reply(std::move(g), r);
        return;
    }
    auto it = pending_.find(r.id);
    if (it == pending_.end()) {
        return;
    }
    pending_query& p = it->second;
    p.replies.add(r);
    if (r.failed && p.failure.empty()) {
        p.failure = r.error;
    }
    if (--p.awaiting != 0) {
        return;
    }
    std::string failure = std::move(p.failure);
    std::string body = failure.empty() ? p.finish(p.replies) : std::string();
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
    if (!failure.empty()) {
        reply(*st, http::json_error(503, failure, keep, "Retry-After: 1\r\n"), keep);
    } else {
        reply(*st, http::json_response(200, body, keep), keep);
    }
    resume(*st);
}

} // namespace ringcast::server
