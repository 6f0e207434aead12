// The debug console's routes, its stream and its polls across shards (see console.h).
#include "ringcast/server/console.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/crypto.h"
#include "ringcast/core/json_writer.h"
#include "ringcast/core/log.h"
#include "ringcast/http/response.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/query.h"
#include "ringcast/server/connection_handler.h"
#include "ringcast/ws/frame_encoder.h"
#include "ringcast/ws/handshake.h"

namespace ringcast::server {

namespace {

// How long a page may leave an update unread before the stream is closed (a dead peer would
// otherwise keep the shards recording for nobody). Updates go once a second: a timer due now
// fires at the shard's next tick.
constexpr std::uint64_t stalled_after_ms = 60'000;

// The page is one self-contained file: nothing is fetched from anywhere else, and it may only
// talk back to this server.
constexpr std::string_view page_headers =
    "Cache-Control: no-store\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'\r\n";

std::string query_value(const http::request& req, std::string_view name) {
    auto query = http::parse_query(req.query());
    if (query) {
        for (auto& [k, v] : *query) {
            if (k == name) {
                return std::move(v);
            }
        }
    }
    return {};
}

// The page's cookie: set when the page is opened with a valid ?token=, so that reloading the
// tab (the page takes the token out of the address bar) and the stream's upgrade carry it.
constexpr std::string_view cookie_name = "ringcast_console";

std::string cookie_token(const http::request& req) {
    std::string_view cookies = req.header("cookie");
    while (!cookies.empty()) {
        std::size_t end = cookies.find(';');
        std::string_view one = cookies.substr(0, end);
        while (one.starts_with(' ')) {
            one.remove_prefix(1);
        }
        if (one.starts_with(cookie_name) && one.size() > cookie_name.size() &&
            one[cookie_name.size()] == '=') {
            return std::string(one.substr(cookie_name.size() + 1));
        }
        cookies = end == std::string_view::npos ? std::string_view{} : cookies.substr(end + 1);
    }
    return {};
}

// `with_cookie`: the page and its stream take the cookie too; the event creator does not (a
// cookie goes with requests other sites make, a header does not).
std::string token_of(const http::request& req, bool with_cookie) {
    std::string_view auth = req.header("authorization");
    if (auth.starts_with("Bearer ")) {
        return std::string(auth.substr(7));
    }
    std::string token = query_value(req, "token");
    return token.empty() && with_cookie ? cookie_token(req) : token;
}

// Joins the shards' JSON fragments of one list into `out` as an array.
template <typename Get>
void join(std::string& out, const std::vector<std::unique_ptr<pusher::console_part>>& parts, Get get) {
    out += '[';
    bool first = true;
    for (const auto& p : parts) {
        if (p && !get(*p).empty()) {
            out += first ? "" : ",";
            out += get(*p);
            first = false;
        }
    }
    out += ']';
}

} // namespace

int console_app_of(const config::server& s, const http::request& req) {
    std::string id = query_value(req, "app");
    for (std::size_t i = 0; i < s.apps.size() && !id.empty(); ++i) {
        if (s.apps[i].id == id && s.apps[i].enabled) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

console_access console_access_of(const config::server& s, const http::request& req, int app,
                                 bool with_cookie) {
    std::string token = token_of(req, with_cookie);
    if (token.empty()) {
        return {};
    }
    if (!s.console.token.empty() && core::constant_time_equal(token, s.console.token)) {
        return {.all = true};
    }
    if (app >= 0 && static_cast<std::size_t>(app) < s.apps.size() && s.apps[app].enabled &&
        core::constant_time_equal(token, s.apps[app].secret)) {
        return {.app = app};
    }
    return {};
}

// ---- the stream --------------------------------------------------------------------------

console_stream::console_stream(connection_handler& handler, shard::conn& c, std::uint32_t app,
                               console_access access)
    : handler_(handler), conn_(c), app_(app), access_(access), decoder_(4096),
      // One cursor per shard, and in a cluster one more for the other nodes (the bridge).
      cursors_(handler.shard_.count() + (handler.shard_.bridge() >= 0 ? 1 : 0),
               pusher::console_log::from_now) {
    handler_.ctx_.counters().app(app_).console_watchers.fetch_add(1, std::memory_order_relaxed);
    last_read_ms_ = handler_.shard_.now_ms();
}

console_stream::~console_stream() {
    handler_.ctx_.counters().app(app_).console_watchers.fetch_sub(1, std::memory_order_relaxed);
}

void console_stream::start() {
    handler_.shard_.send(conn_, ws::text_frame(hello()));
    poll();
}

std::string console_stream::hello() const {
    const config::server& s = handler_.settings();
    std::string out = "{\"type\":\"hello\",\"app\":";
    core::append_json_string(out, s.apps[app_].id);
    out += ",\"apps\":[";
    bool first = true;
    for (std::size_t i = 0; i < s.apps.size(); ++i) {
        if (!s.apps[i].enabled || !access_.grants(static_cast<int>(i))) {
            continue;
        }
        out += first ? "{\"id\":" : ",{\"id\":";
        core::append_json_string(out, s.apps[i].id);
        out += ",\"key\":";
        core::append_json_string(out, s.apps[i].key);
        out += '}';
        first = false;
    }
    out += "],\"shards\":" + std::to_string(handler_.shard_.count()) + '}';
    return out;
}

void console_stream::on_data(std::string_view bytes) {
    if (closing_) {
        return;
    }
    switch (decoder_.feed(bytes, *this)) {
    case ws::decoder::state::open:
        return;
    case ws::decoder::state::closing:
        closing_ = true;
        handler_.shard_.close_gracefully(conn_);
        return;
    case ws::decoder::state::failed:
        closing_ = true;
        handler_.shard_.close(conn_);
        return;
    }
}

void console_stream::on_control_bytes(std::string_view bytes) {
    handler_.shard_.send(conn_, net::frame_ref(net::frame::copy_of(bytes)));
}

void console_stream::on_timer() {
    if (closing_) {
        return;
    }
    std::uint64_t now = handler_.shard_.now_ms();
    bool drained = conn_.out.empty() && !conn_.sending;
    if (drained) {
        last_read_ms_ = now;
    } else if (now - last_read_ms_ > stalled_after_ms) {
        RC_LOG_INFO("console: closing a page that has not read its updates for %llu s",
                    static_cast<unsigned long long>(stalled_after_ms / 1000));
        close(1008, "The console page stopped reading");
        return;
    }
    if (drained && !polling_) {
        poll();
    } else {
        handler_.shard_.set_timer(conn_, now); // due now: the next tick
    }
}

void console_stream::poll() {
    polling_ = true;
    handler_.poll_console(*this);
}

void console_stream::deliver(std::vector<std::unique_ptr<pusher::console_part>>& parts) {
    polling_ = false;
    if (closing_) {
        return;
    }
    std::uint64_t count = 0;
    for (const auto& p : parts) {
        if (p) {
            cursors_[p->shard] = p->cursor;
            dropped_ += p->dropped;
            count += p->connection_count;
        }
    }
    std::string out = "{\"type\":\"update\",\"time\":" + std::to_string(core::unix_ms());
    out += ",\"connection_count\":" + std::to_string(count) + ",\"connections\":";
    join(out, parts, [](const pusher::console_part& p) -> const std::string& { return p.connections; });
    out += ",\"channels\":";
    join(out, parts, [](const pusher::console_part& p) -> const std::string& { return p.channels; });
    out += ",\"events\":";
    join(out, parts, [](const pusher::console_part& p) -> const std::string& { return p.events; });
    out += ",\"dropped\":" + std::to_string(dropped_) + '}';
    handler_.shard_.send(conn_, ws::text_frame(out));
    handler_.shard_.set_timer(conn_, handler_.shard_.now_ms()); // due now: the next tick
}

void console_stream::close(std::uint16_t code, std::string_view reason) {
    closing_ = true;
    handler_.shard_.send(conn_, ws::close_frame(code, reason));
    handler_.shard_.close_gracefully(conn_);
}

// ---- connection_handler: routes and polls --------------------------------------------------

namespace {

// The app a stream (or its probe without an upgrade) asks for and what its token opens; on
// failure the status to answer (401 for the token, 404 for the app).
struct stream_target {
    int app = -1;
    console_access access;
    int status = 0;
};

stream_target target_of(const config::server& s, const http::request& req) {
    stream_target t;
    bool named = !query_value(req, "app").empty();
    t.app = console_app_of(s, req);
    t.access = console_access_of(s, req, t.app, true);
    if (!t.access.all && t.access.app < 0) {
        t.status = 401;
    } else if (!named) {
        // No app named: the first one the token opens.
        for (std::size_t i = 0; i < s.apps.size() && t.app < 0; ++i) {
            t.app = s.apps[i].enabled ? static_cast<int>(i) : -1;
        }
    }
    if (t.status == 0 && !t.access.grants(t.app)) {
        t.status = 404;
    }
    return t;
}

std::string refusal(const config::console_settings& cs, int status) {
    if (status == 404) {
        return "No enabled app with that id";
    }
    return "The console needs its token: open " + cs.path +
           "?token=... (the token is in the server's start-up banner, or --console-token), or "
           "?app=ID&token=<that app's secret>";
}

// Remembers a console token given in the address in a cookie scoped to the console's path, so a
// reload of the tab (whose address no longer holds it) and the stream still carry it.
std::string page_cookie(const config::console_settings& cs, const http::request& req, bool tls) {
    std::string token = query_value(req, "token");
    if (token != cs.token || token.find_first_of(";, \t\"\\") != std::string::npos) {
        return {};
    }
    return "Set-Cookie: " + std::string(cookie_name) + '=' + token + "; Path=" + cs.path +
           "; HttpOnly; SameSite=Strict" + (tls ? "; Secure" : "") + "\r\n";
}

} // namespace

bool connection_handler::serve_console(state& st, const http::request& req) {
    const config::console_settings& cs = settings().console;
    std::string_view path = req.path();
    if (!cs.enabled() || !path.starts_with(cs.path) ||
        (path.size() > cs.path.size() && path[cs.path.size()] != '/')) {
        return false;
    }
    std::string_view rest = path.substr(cs.path.size());
    const bool keep = req.keep_alive;
    auto refuse = [&](int status) {
        RC_LOG_INFO("console: refused %s %s: %s", req.method.c_str(), std::string(path).c_str(),
                    status == 401 ? "no valid token" : "no such app");
        reply(st, http::json_error(status, refusal(cs, status), keep), keep);
    };
    if (rest.empty() || rest == "/" || rest == "/stream") {
        stream_target t = target_of(settings(), req);
        if (req.method != "GET" && req.method != "HEAD") {
            reply(st, http::json_error(405, "Method not allowed: use GET", keep, "Allow: GET\r\n"), keep);
        } else if (t.status != 0) {
            refuse(t.status);
        } else if (rest == "/stream") {
            reply(st,
                  http::json_error(426, "This is the console's WebSocket stream", keep,
                                   "Upgrade: websocket\r\n"),
                  keep);
        } else {
            std::string headers = std::string(page_headers) + page_cookie(cs, req, st.conn.tls != nullptr);
            reply(st, http::response(200, "text/html; charset=utf-8", console_page(), keep, headers), keep);
        }
        return true;
    }
    // /apps/{id}/events: the event creator.
    constexpr std::string_view apps = "/apps/";
    std::string_view id = rest.starts_with(apps) ? rest.substr(apps.size()) : std::string_view{};
    std::size_t slash = id.find('/');
    if (slash == std::string_view::npos || id.substr(slash) != "/events") {
        reply(st, http::json_error(404, "Not found", keep), keep);
        return true;
    }
    int app = ctx_.find_app_by_id(id.substr(0, slash));
    console_access access = console_access_of(settings(), req, app, false);
    if (!access.grants(app)) {
        refuse(access.all ? 404 : 401);
        return true;
    }
    dispatch_api(st, req, static_cast<std::uint32_t>(app), "/events", true);
    return true;
}

void connection_handler::open_console_stream(state& st, const http::request& req, std::string_view rest) {
    if (core::status upgrade = ws::check_upgrade(req); !upgrade) {
        reply(st, http::json_error(upgrade.code(), upgrade.message(), false), false);
        return;
    }
    stream_target t = target_of(settings(), req);
    if (t.status != 0) {
        RC_LOG_INFO("console: refused a stream: %s", t.status == 401 ? "no valid token" : "no such app");
        reply(st, http::json_error(t.status, refusal(settings().console, t.status), false), false);
        return;
    }
    shard_.send(st.conn,
                net::frame_ref(net::frame::copy_of(ws::upgrade_response(req.header("sec-websocket-key")))));
    RC_LOG_INFO("console: page opened for app %s", settings().apps[t.app].id.c_str());
    auto stream =
        std::make_unique<console_stream>(*this, st.conn, static_cast<std::uint32_t>(t.app), t.access);
    console_stream& s = *stream;
    shard::conn& c = st.conn;
    shard_.replace_state(c, std::move(stream)); // `st` goes with this batch
    s.start();
    if (!rest.empty()) {
        s.on_data(rest);
    }
}

void connection_handler::poll_console(console_stream& s) {
    std::uint64_t id = next_query_++;
    console_poll& p = console_polls_[id];
    p.conn = s.connection();
    // In a cluster the bridge answers for the other nodes (cluster/console.cpp).
    unsigned targets = shard_.count() + (shard_.bridge() >= 0 ? 1 : 0);
    p.awaiting = targets;
    for (unsigned i = 0; i < targets; ++i) {
        auto q = std::make_unique<pusher::query_mail>();
        q->id = id;
        q->reply_to = shard_.index();
        q->kind = pusher::query_kind::console;
        q->app = s.app();
        q->since = s.cursor(i);
        shard_.post(i == shard_.count() ? static_cast<unsigned>(shard_.bridge()) : i, std::move(q));
    }
}

bool connection_handler::on_console_reply(pusher::query_reply_mail& r) {
    auto it = console_polls_.find(r.id);
    if (it == console_polls_.end()) {
        return false;
    }
    console_poll& p = it->second;
    p.parts.push_back(std::move(r.console));
    if (--p.awaiting != 0) {
        return true;
    }
    shard::conn* c = shard_.find(p.conn);
    auto* s = c == nullptr ? nullptr : dynamic_cast<console_stream*>(c->state.get());
    if (s != nullptr) {
        s->deliver(p.parts);
    }
    console_polls_.erase(it);
    return true;
}

} // namespace ringcast::server
