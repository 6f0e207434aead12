// The glue between a shard and the protocols: every accepted connection starts as HTTP/1.1
// (llhttp); a request to {path}/app/{key} upgrades it to a WebSocket Pusher session, any other
// request is answered by the router (health, HTTP API) on a keep-alive connection.
#pragma once

#include "ringcast/api/endpoints.h"
#include "ringcast/core/status.h"
#include "ringcast/http/parser.h"
#include "ringcast/http/request.h"
#include "ringcast/pusher/context.h"
#include "ringcast/server/console.h"
#include "ringcast/server/metrics.h"
#include "ringcast/server/shard_port.h"
#include "ringcast/shard/shard.h"
#include "ringcast/webhook/event.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringcast::server {

class connection_handler final : public shard::handler {
public:
    // `webhooks`: where the shard's webhook events go (null: nowhere).
    connection_handler(shard::shard& owner, const config::server& settings, pusher::shared_counters& counters,
                       webhook::sink* webhooks = nullptr);

    void on_open(shard::conn& c) override;
    void on_mail(shard::mail& m) override;
    void on_tick() override { ctx_.on_tick(); }

    // Connections accepted on the shard's listener `listener` serve GET /metrics (the scrape
    // of `from`) and nothing else. Set on shard 0 only, before it runs.
    void serve_metrics(unsigned listener, scrape_sources from) {
        metrics_listener_ = static_cast<int>(listener);
        scrape_from_ = from;
    }
    // What this shard counts (read by the scrape on shard 0's thread: atomics only).
    const pusher::metrics& pusher_stats() const noexcept { return ctx_.stats(); }
    const http_metrics& http_stats() const noexcept { return http_stats_; }

    // The shard's own settings: write budget, the 4100 goodbye for slow consumers, the 503 for
    // clients turned away at the open-files limit.
    static shard::options shard_options(const config::server& settings);
    // What a slow consumer reads in place of its backlog: pusher:error 4100, then close 4100.
    static net::frame_ref overload_goodbye();

private:
    friend class console_stream;

    // A connection while it speaks HTTP: the conn's state until a WebSocket upgrade replaces
    // it with a pusher::session.
    struct state final : shard::conn_state {
        state(connection_handler& h, shard::conn& c) : handler(h), conn(c) {}
        void on_data(std::string_view bytes) override { handler.on_http_data(*this, bytes); }
        void on_timer() override { handler.on_http_timer(*this); }
        bool on_finish_up() override;
        void on_shutdown() override;
        void on_failure() override;
        void on_closed() override {}

        connection_handler& handler;
        shard::conn& conn;                  // stable: the shard never moves its conns
        std::unique_ptr<http::parser> http; // while the connection speaks HTTP
        bool discard = false;               // closing: ignore further input
        bool mid_request = false;
        bool waiting = false;       // an API answer is being gathered from other shards
        std::string backlog;        // bytes that arrived meanwhile (pipelined requests)
        std::uint32_t requests = 0; // answered on this connection
        std::uint64_t last_activity_ms = 0;
        std::uint64_t request_started_ms = 0; // first byte of the request being read (or accept)
        // Metrics: the request being answered (its endpoint, its app for soketi's per-app
        // figures, when it was read; 0 once answered).
        http_route route = http_route::other;
        int api_app = -1;
        std::uint64_t request_ns = 0;
        bool metrics_only = false; // accepted on the metrics listener
    };

    // An API request whose answer needs other shards: the replies are gathered here, then
    // `finish` (from the endpoint's api::plan) builds the response body from them.
    struct pending_query {
        shard::conn_id conn;
        bool keep_alive = false;
        unsigned awaiting = 0;
        api::replies replies;
        std::function<std::string(api::replies&)> finish;
        std::string failure; // a shared publish that did not reach Redis: answered 503 with it
    };

    // An API request waiting for the cluster's rate check (api::rate_gate) before it is carried out.
    struct gated_request {
        shard::conn_id conn;
        bool keep_alive = false;
        std::uint32_t app = 0;
        api::route target;
        api::outcome out;
    };

    void on_http_data(state& st, std::string_view bytes);
    void on_http_timer(state& st);
    void handle_request(state& st, http::request req);
    // /apps/{id}{endpoint}: finds the api endpoint, checks method and signature, and carries out
    // its outcome (reply, publish, send_plan).
    // `console`: the debug console's event creator, authorised by its token instead of a signature.
    void dispatch_api(state& st, const http::request& req, std::uint32_t app, std::string_view endpoint,
                      bool console = false);
    // What an endpoint's outcome says to do: answer, publish, send its plan.
    void carry_out(state& st, bool keep, std::uint32_t app, const api::route& target, api::outcome out);
    // In a cluster, an outcome under a rate limit waits for the bridge's check first.
    void hold_at_gate(state& st, bool keep, std::uint32_t app, const api::route& target, api::outcome out);
    void on_gate_reply(gated_request g, const pusher::query_reply_mail& r);
    // Parses what arrived while the connection waited for an answer.
    void resume(state& st);
    // In a cluster: hands the events to the Redis bridge and answers `body` once Redis has them
    // all, so the publisher's next request (to whichever node) comes after them in every order.
    void publish_shared(state& st, bool keep_alive, std::uint32_t app,
                        const std::vector<api::event_request>& events, std::string body);
    // Sends the plan's queries and answers the request once all have replied.
    void send_plan(state& st, bool keep_alive, api::plan plan);
    void on_query_reply(pusher::query_reply_mail& r);
    void feed_http(state& st, std::string_view bytes);
    void handle_upgrade(state& st, http::request req, std::string_view rest);
    void open_pusher_session(state& st, std::uint32_t app, bool admitted, std::string_view rest,
                             std::string_view origin);
    // In a cluster, an app's max_connections is checked in Redis before the session opens.
    struct admission {
        shard::conn_id conn;
        std::uint32_t app = 0;
        std::string origin;
    };
    void ask_admission(state& st, std::uint32_t app, std::uint32_t limit, std::string_view rest,
                       std::string_view origin);
    void on_admission(admission a, const pusher::query_reply_mail& r);
    void reply(state& st, std::string response, bool keep_alive);
    // Counts an answer in http_stats_ (and the app's soketi figures for an API request).
    void count_answer(state& st, std::string_view response);
    // console.cpp: the console's routes (true when `req` was one of them), its stream, its polls.
    bool serve_console(state& st, const http::request& req);
    void open_console_stream(state& st, const http::request& req, std::string_view rest);
    void poll_console(console_stream& s);
    bool on_console_reply(pusher::query_reply_mail& r);
    struct console_poll {
        shard::conn_id conn;
        unsigned awaiting = 0;
        std::vector<std::unique_ptr<pusher::console_part>> parts;
    };
    // The metrics listener's only route.
    void serve_scrape(state& st, const http::request& req);
    // Sends pusher:error and a close frame with the status's code and message, then closes.
    void refuse_websocket(state& st, const core::status& why);
    // The app a WebSocket URL ({path}/app/{key}) names, if it exists, is enabled and allows the
    // request's Origin; else the Pusher error (code and message) to refuse with.
    core::result<std::uint32_t> websocket_app(const http::request& req) const;
    void schedule_http_timer(state& st);
    // True while a request is unfinished (or none has come yet): the handshake timeout applies.
    static bool awaiting_request(const state& st) noexcept;
    // When the connection's timer must fire: the request's or the idle deadline.
    std::uint64_t http_deadline_ms(const state& st) const noexcept;
    // The request path with the server's --path prefix removed; false if it lacks the prefix.
    bool strip_prefix(std::string_view path, std::string_view& out) const noexcept;
    // Reverb's allowed_origins: "*" or host patterns with * wildcards, matched against the
    // host of the Origin header. Requests without Origin (non-browser clients) are allowed.
    static bool origin_allowed(const config::app& a, std::string_view origin) noexcept;

    shard::shard& shard_;
    shard_port port_; // what the Pusher layer sees of shard_
    // The current settings are the context's: a reload (pusher::reload_mail) replaces them.
    const config::server& settings() const noexcept { return ctx_.settings(); }
    pusher::context ctx_;
    http::limits limits_;
    std::unordered_map<std::uint64_t, pending_query> pending_;
    std::unordered_map<std::uint64_t, gated_request> gates_;
    std::unordered_map<std::uint64_t, admission> admissions_;
    std::unordered_map<std::uint64_t, console_poll> console_polls_;
    std::uint64_t next_query_ = 1;
    http_metrics http_stats_;
    int metrics_listener_ = -1; // none: this shard serves no scrapes
    scrape_sources scrape_from_;
};

} // namespace ringcast::server
