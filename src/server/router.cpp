// Plain HTTP routes: health check and the Pusher HTTP API (all under the --path prefix).
#include "ringcast/api/events.h"
#include "ringcast/api/signature.h"
#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/http/response.h"
#include "ringcast/http/url.h"
#include "ringcast/server/connection_handler.h"

namespace ringcast::server {

void connection_handler::handle_request(shard::conn& c, state& st, http::request req) {
    const bool keep = req.keep_alive;
    RC_LOG_DEBUG("http %s %s", req.method.c_str(), req.target.c_str());
    std::string_view route;
    if (!strip_prefix(req.path(), route)) {
        reply(c, st, http::json_error(404, "Not found: every route is under " + settings_.path, keep), keep);
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
    // /apps/{app_id}/{endpoint}
    std::string_view rest = route.substr(6);
    size_t slash = rest.find('/');
    std::string_view app_id = rest.substr(0, slash);
    std::string_view endpoint = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    int app = ctx_.find_app_by_id(app_id);
    if (app < 0) {
        reply(c, st, http::json_error(404, "No app with id \"" + std::string(app_id) + "\"", keep), keep);
        return;
    }
    if (endpoint != "/events") {
        reply(c, st, http::json_error(404, "Not found: unknown API endpoint " + std::string(endpoint), keep),
              keep);
        return;
    }
    if (req.method != "POST") {
        reply(c, st, http::json_error(405, "Method not allowed: use POST", keep, "Allow: POST\r\n"), keep);
        return;
    }
    const config::app& a = settings_.apps[static_cast<size_t>(app)];
    auto query = http::parse_query(req.query());
    if (!query) {
        reply(c, st, http::json_error(400, "Malformed query string", keep), keep);
        return;
    }
    if (auto err =
            api::verify(a, req.method, req.path(), settings_.path, *query, req.body, core::unix_seconds())) {
        RC_LOG_DEBUG("http 401: %s", err.message.c_str());
        reply(c, st, http::json_error(err.status, err.message, keep), keep);
        return;
    }
    api::event_request ev;
    if (auto err = api::parse_event(ctx_.json(), req.body, a, ev)) {
        reply(c, st, http::json_error(err.status, err.message, keep), keep);
        return;
    }
    std::string body = api::publish_event(ctx_, static_cast<std::uint32_t>(app), ev);
    reply(c, st, http::json_response(200, body, keep), keep);
}

} // namespace ringcast::server
