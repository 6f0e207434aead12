// Connection life cycle: HTTP parsing, the WebSocket upgrade, timers and close-down.
#include "ringcast/server/connection_handler.h"

#include "ringcast/pusher/cluster_mail.h"

#include "ringcast/core/log.h"
#include "ringcast/http/response.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/session.h"
#include "ringcast/ws/frame_encoder.h"
#include "ringcast/ws/handshake.h"

#include <algorithm>

namespace ringcast::server {

connection_handler::connection_handler(shard::shard& owner, const config::server& settings,
                                       pusher::shared_counters& counters, webhook::sink* webhooks)
    : shard_(owner), port_(owner),
      ctx_(port_, settings, counters), limits_{settings.max_header_bytes, settings.max_body_bytes} {
    ctx_.set_query_reply_handler([this](pusher::query_reply_mail& r) { on_query_reply(r); });
    ctx_.set_webhooks(webhooks);
}

net::frame_ref connection_handler::overload_goodbye() {
    // pusher:error first, as hosted Pusher says it, then the close frame with the same code:
    // pusher-js reads a 4100 close as "over capacity, reconnect after a back-off". One buffer,
    // so the shard queues both as the single frame it puts ahead of a slow consumer's backlog.
    constexpr std::uint16_t code = pusher::value(pusher::code::over_capacity);
    constexpr std::string_view why = "Over capacity: the client is not reading fast enough";
    net::frame_ref error = pusher::error(code, why);
    net::frame_ref close = ws::close_frame(code, why);
    std::string both(error->view());
    both += close->view();
    return net::frame_ref(net::frame::copy_of(both));
}

shard::options connection_handler::shard_options(const config::server& settings) {
    shard::options o;
    o.max_pending_write_bytes = settings.max_pending_write_bytes;
    o.overload_frame = overload_goodbye();
    o.busy_response = net::frame_ref(net::frame::copy_of(http::json_error(
        503, "Server at its connection limit: try again in a few seconds", false, "Retry-After: 5\r\n")));
    o.plain_http_response = net::frame_ref(net::frame::copy_of(
        http::json_error(400, "This port speaks TLS: use https:// or wss://", false, "")));
    o.max_tls_handshakes = settings.tls.max_handshakes;
    return o;
}

void connection_handler::on_open(shard::conn& c) {
    auto st = std::make_unique<state>(*this, c);
    st->http = std::make_unique<http::parser>(limits_);
    st->last_activity_ms = st->request_started_ms = shard_.now_ms();
    st->metrics_only = metrics_listener_ >= 0 && c.listener == static_cast<unsigned>(metrics_listener_);
    schedule_http_timer(*st);
    c.state = std::move(st);
}

bool connection_handler::awaiting_request(const state& st) noexcept {
    return st.mid_request || st.requests == 0;
}

std::uint64_t connection_handler::http_deadline_ms(const state& st) const noexcept {
    // A request (or the WebSocket handshake) must be complete within the handshake timeout of
    // its first byte, however the bytes trickle in: timing it from the last byte would let a
    // slowloris peer that sends one byte every few seconds hold the connection forever
    // (nginx's client_header_timeout works the same way). An idle keep-alive connection gets
    // the idle timeout from its last activity.
    if (awaiting_request(st)) {
        return st.request_started_ms + settings().handshake_timeout_s * 1000ULL;
    }
    return st.last_activity_ms + settings().http_idle_timeout_s * 1000ULL;
}

void connection_handler::schedule_http_timer(state& st) {
    shard_.set_timer(st.conn, http_deadline_ms(st));
}

void connection_handler::on_http_data(state& st, std::string_view bytes) {
    if (st.discard) {
        return;
    }
    std::uint64_t now = shard_.now_ms();
    if (!awaiting_request(st)) {
        st.request_started_ms = now; // the first byte of the next request on a kept-alive connection
    }
    st.last_activity_ms = now;
    feed_http(st, bytes);
}

void connection_handler::feed_http(state& st_ref, std::string_view bytes) {
    state* st = &st_ref;
    if (st->waiting) {
        // Requests pipelined behind one still being answered wait their turn (answers keep
        // request order); bounded so a client cannot make us buffer without limit.
        if (st->backlog.size() + bytes.size() > settings().max_header_bytes + settings().max_body_bytes) {
            st->discard = true;
            shard_.close(st->conn);
            return;
        }
        st->backlog.append(bytes);
        return;
    }
    while (!bytes.empty() && !st->discard && !st->waiting) {
        http::parser::result r = st->http->feed(bytes);
        switch (r.what) {
        case http::parser::status::need_more:
            st->mid_request = st->http->mid_request();
            return;
        case http::parser::status::request:
            st->mid_request = false;
            ++st->requests;
            bytes.remove_prefix(r.consumed);
            handle_request(*st, st->http->take());
            if (st->waiting) {
                st->backlog.append(bytes);
                return;
            }
            break;
        case http::parser::status::upgrade:
            st->mid_request = false;
            handle_upgrade(*st, st->http->take(), bytes.substr(r.consumed));
            return;
        case http::parser::status::error:
            if (!core::debug_filtered()) {
                RC_LOG_DEBUG("http error %d: %s", st->http->error_status(),
                             st->http->error_message().c_str());
            }
            reply(*st, http::json_error(st->http->error_status(), st->http->error_message(), false), false);
            return;
        }
    }
}

void connection_handler::reply(state& st, std::string response, bool keep_alive) {
    if (!st.metrics_only) {
        count_answer(st, response);
    }
    shard_.send(st.conn, net::frame_ref(net::frame::copy_of(response)));
    if (!keep_alive) {
        st.discard = true;
        shard_.close_gracefully(st.conn);
    }
}

void connection_handler::refuse_websocket(state& st, const core::status& why) {
    auto code = static_cast<std::uint16_t>(why.code());
    RC_LOG_DEBUG("refusing WebSocket: %u %s", code, why.message().c_str());
    shard_.send(st.conn, pusher::error(code, why.message()));
    shard_.send(st.conn, ws::close_frame(code, why.message()));
    st.discard = true;
    shard_.close_gracefully(st.conn);
}

bool connection_handler::strip_prefix(std::string_view path, std::string_view& out) const noexcept {
    std::string_view prefix = settings().path;
    if (prefix.empty()) {
        out = path;
        return true;
    }
    if (!path.starts_with(prefix) || (path.size() > prefix.size() && path[prefix.size()] != '/')) {
        return false;
    }
    out = path.substr(prefix.size());
    return true;
}

namespace {
// The protocol= parameter of the WebSocket URL. pusher-js sends protocol=7; 5 and 6 differ from 7
// only in details we handle the same way. Older ones are refused, as hosted Pusher does. A
// malformed query string has no usable protocol either.
core::status check_protocol(std::string_view query_string) {
    auto query = http::parse_query(query_string).value_or(std::vector<std::pair<std::string, std::string>>{});
    auto it = std::find_if(query.begin(), query.end(), [](const auto& kv) { return kv.first == "protocol"; });
    if (it == query.end()) {
        return core::failure("No protocol version supplied: add ?protocol=7 to the URL",
                             pusher::value(pusher::code::no_protocol_version));
    }
    std::string_view protocol = it->second;
    int version = 0;
    bool numeric = !protocol.empty() && protocol.size() <= 4;
    for (char ch : protocol) {
        numeric = numeric && ch >= '0' && ch <= '9';
        version = version * 10 + (ch - '0');
    }
    if (!numeric) {
        return core::failure("Invalid version string format: protocol must be a number",
                             pusher::value(pusher::code::invalid_version_format));
    }
    if (version < 5 || version > 7) {
        return core::failure("Unsupported protocol version " + std::to_string(version) + ": use 7",
                             pusher::value(pusher::code::unsupported_protocol));
    }
    return core::ok();
}
} // namespace

core::result<std::uint32_t> connection_handler::websocket_app(const http::request& req) const {
    std::string_view route;
    if (!strip_prefix(req.path(), route) || !route.starts_with("/app/") || route.size() == 5 ||
        route.find('/', 5) != std::string_view::npos) {
        return core::failure("Path not found: connect to " + settings().path + "/app/{key}",
                             pusher::value(pusher::code::path_not_found));
    }
    std::string_view key = route.substr(5);
    int app = ctx_.find_app_by_key(key);
    if (app < 0) {
        return core::failure("Application does not exist: no app has key \"" + std::string(key) + "\"",
                             pusher::value(pusher::code::app_not_found));
    }
    const config::app& a = settings().apps[static_cast<size_t>(app)];
    if (!a.enabled) {
        return core::failure("Application disabled", pusher::value(pusher::code::app_disabled));
    }
    if (!origin_allowed(a, req.header("origin"))) {
        return core::failure("Origin not allowed: " + std::string(req.header("origin")) +
                                 " is not in the app's allowed_origins",
                             pusher::value(pusher::code::unauthorized));
    }
    return static_cast<std::uint32_t>(app);
}

void connection_handler::handle_upgrade(state& st, http::request req, std::string_view rest) {
    if (st.metrics_only) {
        reply(st, http::json_error(404, "Not found: this port serves GET /metrics only", false), false);
        return;
    }
    if (settings().console.enabled() && req.path() == settings().console.path + "/stream") {
        open_console_stream(st, req, rest);
        return;
    }
    if (core::status upgrade = ws::check_upgrade(req); !upgrade) {
        reply(st, http::json_error(upgrade.code(), upgrade.message(), false), false);
        return;
    }
    shard_.send(st.conn,
                net::frame_ref(net::frame::copy_of(ws::upgrade_response(req.header("sec-websocket-key")))));
    st.http.reset(); // the HTTP parser is not needed any more; free it now

    // Refusals from here on are Pusher errors on the open WebSocket (pusher-js reads the code).
    core::result<std::uint32_t> app = websocket_app(req);
    if (!app) {
        refuse_websocket(st, app.error());
        return;
    }
    if (core::status protocol = check_protocol(req.query()); !protocol) {
        refuse_websocket(st, protocol);
        return;
    }
    const config::app& a = settings().apps[*app];
    if (shard_.bridge() >= 0 && a.max_connections.has_value()) {
        ask_admission(st, *app, *a.max_connections, rest, req.header("origin")); // the cluster's limit
        return;
    }
    open_pusher_session(st, *app, false, rest, req.header("origin"));
}

void connection_handler::open_pusher_session(state& st, std::uint32_t app, bool admitted,
                                             std::string_view rest, std::string_view origin) {
    std::unique_ptr<pusher::session> ws = ctx_.open_session(st.conn.id(), app, admitted, origin);
    if (ws == nullptr) {
        refuse_websocket(
            st, core::failure("Application is over connection quota (max_connections " +
                                  std::to_string(settings().apps[app].max_connections.value_or(0)) + ")",
                              pusher::value(pusher::code::over_connection_quota)));
        return;
    }
    // From here on the connection is a Pusher session: the HTTP state goes (it is most of
    // what an idle connection would otherwise keep; the shard frees it after this batch, as
    // this call runs inside it) and the conn owns the session.
    pusher::session& session = *ws;
    shard_.replace_state(st.conn, std::move(ws));
    if (!rest.empty()) {
        session.on_data(rest);
    }
}

void connection_handler::ask_admission(state& st, std::uint32_t app, std::uint32_t limit,
                                       std::string_view rest, std::string_view origin) {
    std::uint64_t id = next_query_++;
    admissions_.emplace(id, admission{st.conn.id(), app, std::string(origin)});
    // What the client sends before connection_established waits, as a request behind an answer.
    st.waiting = true;
    st.backlog.assign(rest);
    auto ask = std::make_unique<pusher::admit_mail>();
    ask->id = id;
    ask->reply_to = shard_.index();
    ask->app = app;
    ask->limit = limit;
    shard_.post(static_cast<unsigned>(shard_.bridge()), std::move(ask));
}

void connection_handler::on_admission(admission a, const pusher::query_reply_mail& r) {
    shard::conn* c = shard_.find(a.conn);
    auto* st = c == nullptr ? nullptr : dynamic_cast<state*>(c->state.get());
    if (st == nullptr) {
        ctx_.connections_changed(); // Redis may have counted it: the next count puts that right
        return;
    }
    st->waiting = false;
    std::string rest = std::move(st->backlog);
    st->backlog.clear();
    if (r.failed) {
        open_pusher_session(*st, a.app, false, rest, a.origin); // Redis cannot say: this node's count
    } else if (r.count == 1) {
        open_pusher_session(*st, a.app, true, rest, a.origin);
    } else {
        refuse_websocket(
            *st, core::failure("Application is over connection quota (max_connections " +
                                   std::to_string(settings().apps[a.app].max_connections.value_or(0)) + ")",
                               pusher::value(pusher::code::over_connection_quota)));
    }
}

bool connection_handler::origin_allowed(const config::app& a, std::string_view origin) noexcept {
    if (origin.empty()) {
        return true;
    }
    // The host part of "scheme://host[:port]".
    std::string_view host = origin;
    if (size_t scheme = host.find("://"); scheme != std::string_view::npos) {
        host.remove_prefix(scheme + 3);
    }
    host = host.substr(0, host.find('/'));
    if (!host.starts_with('[')) {
        host = host.substr(0, host.find(':'));
    }
    for (const std::string& pattern : a.allowed_origins) {
        if (pattern == "*") {
            return true;
        }
        // Glob match where '*' matches any run of characters (Laravel's Str::is), case-insensitive.
        size_t p = 0, h = 0, star = std::string::npos, mark = 0;
        auto lower = [](char ch) { return static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch); };
        while (h < host.size()) {
            if (p < pattern.size() && pattern[p] == '*') {
                star = p++;
                mark = h;
            } else if (p < pattern.size() && lower(pattern[p]) == lower(host[h])) {
                ++p;
                ++h;
            } else if (star != std::string::npos) {
                p = star + 1;
                h = ++mark;
            } else {
                break;
            }
        }
        while (p < pattern.size() && pattern[p] == '*') {
            ++p;
        }
        if (h == host.size() && p == pattern.size()) {
            return true;
        }
    }
    return false;
}

void connection_handler::on_http_timer(state& st) {
    if (st.discard) {
        return;
    }
    if (shard_.stopping() && !st.waiting && !awaiting_request(st)) {
        st.discard = true; // quiet since the stop began (see on_finish_up)
        shard_.close(st.conn);
        return;
    }
    if (shard_.now_ms() >= http_deadline_ms(st)) {
        if (awaiting_request(st)) {
            reply(st, http::json_error(408, "Request not completed in time", false), false);
        } else {
            shard_.close(st.conn);
        }
        return;
    }
    schedule_http_timer(st);
}

void connection_handler::on_mail(shard::mail& m) {
    ctx_.on_mail(m);
}

void connection_handler::state::on_failure() {
    discard = true;
    handler.shard_.send(conn, net::frame_ref(net::frame::copy_of(http::json_error(
                                  500, "Internal server error: the request could not be handled", false))));
}

namespace {
// Closing an idle keep-alive connection races with a request the client may be sending on it
// at that moment, which would then fail (a publish lost). One used this recently is likely to
// carry another request soon: a stopping server waits for it (answered with "Connection:
// close", its event delivered before the WebSockets are told to go) or for this much quiet.
constexpr std::uint64_t recently_used_ms = 1000;
} // namespace

bool connection_handler::state::on_finish_up() {
    // A request being read or answered, or a new connection whose request has not come yet
    // (a publisher that connected just before the stop): answered, with "Connection: close".
    if (discard) {
        return false;
    }
    if (waiting || awaiting_request(*this)) {
        return true;
    }
    if (handler.shard_.now_ms() < last_activity_ms + recently_used_ms) {
        handler.shard_.set_timer(conn, last_activity_ms + recently_used_ms);
        return true;
    }
    discard = true;
    handler.shard_.close(conn);
    return false;
}

void connection_handler::state::on_shutdown() {
    discard = true;
    handler.shard_.close(conn);
}

} // namespace ringcast::server
