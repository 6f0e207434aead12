// The server's configuration: what the command line, the environment (Reverb's REVERB_* names,
// also read from a Laravel .env file) and an optional JSON apps file say, merged once at start.
// Immutable after start: every shard reads it without locks.
#pragma once

#include "ringcast/core/status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::config {

// Reverb's accept_client_events_from: who may send client-* events on a channel.
enum class client_events_from { all, members, none };

// The events a webhook target can ask for, by Pusher's names (see webhook_kind_name).
enum class webhook_kind : std::uint8_t {
    channel_occupied,
    channel_vacated,
    member_added,
    member_removed,
    client_event,
    cache_miss,
    subscription_count,
};
inline constexpr unsigned webhook_kind_count = 7;
// "channel_occupied", ...
[[nodiscard]] std::string_view webhook_kind_name(webhook_kind k) noexcept;
[[nodiscard]] std::optional<webhook_kind> webhook_kind_from_name(std::string_view name) noexcept;

// One webhook target of an app, in soketi's vocabulary: where to POST, which events, extra
// headers, and an optional channel-name filter. The URL is checked and split when read.
struct webhook_target {
    std::string url;  // as configured, for messages
    bool tls = false; // https://
    std::string host; // name or address as written in the URL (IPv6 without brackets)
    std::uint16_t port = 80;
    std::string request_target = "/"; // path and query
    std::uint32_t event_types = 0;    // bit (1 << kind) for each wanted webhook_kind
    // Sent after Content-Type and before X-Pusher-Key / X-Pusher-Signature, which they cannot
    // replace (a header named like one of ours is refused when read).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string channel_prefix; // filter.channel_name_starts_with ("" = any)
    std::string channel_suffix; // filter.channel_name_ends_with ("" = any)

    [[nodiscard]] bool wants(webhook_kind k) const noexcept {
        return (event_types & (1U << static_cast<unsigned>(k))) != 0;
    }
    [[nodiscard]] bool accepts(std::string_view channel) const noexcept {
        return channel.starts_with(channel_prefix) && channel.ends_with(channel_suffix);
    }
};

// One Pusher application. Defaults follow hosted Pusher where it documents a limit and Reverb
// where it documents a timing, so a Laravel app moving to ringcast sees the same behaviour.
struct app {
    std::string id;
    std::string key;
    std::string secret;
    bool enabled = true;
    // Set by a reload (SIGHUP) for an app no longer configured: its slot stays, so the indices
    // shards use do not move, but it is found by neither key nor id.
    bool removed = false;

    // Seconds of server silence after which pusher-js pings; sent in connection_established.
    std::uint32_t activity_timeout_s = 30;
    // Seconds of client silence after which the server pings (Reverb's ping_interval).
    std::uint32_t ping_interval_s = 60;
    // Seconds the server waits for any reply to its ping before closing with 4201.
    std::uint32_t pong_timeout_s = 30;

    // Largest inbound WebSocket message (Reverb's max_message_size); bigger closes with 1009.
    std::uint32_t max_message_size = 10'000;
    // Largest `data` of one published event (hosted Pusher: 10 KB); bigger answers 413.
    std::uint32_t max_event_payload_bytes = 10'240;
    std::uint32_t max_event_channels = 100;
    std::uint32_t max_event_name_length = 200;
    // Hosted Pusher documents 164 characters including the prefix.
    std::uint32_t max_channel_name_length = 164;
    std::uint32_t max_batch_size = 10;

    std::optional<std::uint32_t> max_connections;
    std::vector<std::string> allowed_origins{"*"};
    client_events_from accept_client_events_from = client_events_from::members;
    // Hosted Pusher's documented limit: client events per second per connection (4301 beyond).
    std::uint32_t max_client_events_per_second = 10;

    // Presence limits (hosted Pusher: 100 members, 1 KB user info, 128-character user id).
    std::uint32_t max_presence_members = 100;
    std::uint32_t max_presence_member_size = 1024;
    std::uint32_t max_presence_user_id_length = 128;
    // Seconds a cache channel remembers its last event (hosted Pusher: up to 30 minutes).
    std::uint32_t cache_ttl_s = 1800;
    // Send pusher_internal:subscription_count to subscribers (an opt-in app setting at Pusher).
    bool subscription_count = false;
    // Pusher's "authorized connections": close with 4009 a connection that neither signs in nor
    // joins a private/presence channel within this many seconds (0 = off).
    std::uint32_t authorized_connections_timeout_s = 0;
    // Watched user ids accepted from pusher:signin (the rest are dropped with error 4302).
    std::uint32_t watchlist_limit = 100;
    // Channels one connection may be subscribed to at once (joins still waiting for a presence
    // owner count too); beyond it pusher:subscription_error LimitReached (403). A bound on what
    // one connection can make its shard hold and do.
    std::uint32_t max_subscriptions_per_connection = 1000;

    // Reverb's rate limiting: at most rate_limit_max_attempts inbound WebSocket messages per
    // connection every rate_limit_decay_s seconds; beyond that pusher:error 4301, or a close
    // with 4301 when rate_limit_terminate is set.
    bool rate_limiting_enabled = false;
    std::uint32_t rate_limit_max_attempts = 60;
    std::uint32_t rate_limit_decay_s = 60;
    bool rate_limit_terminate = false;

    // soketi's per-app HTTP API limits, counted across all shards (0 = unlimited): events
    // published per second (events and batch_events) and read requests per second (GETs);
    // beyond them the API answers 429.
    std::uint32_t max_backend_events_per_second = 0;
    std::uint32_t max_read_requests_per_second = 0;

    std::vector<webhook_target> webhooks;
    // Any target wants kind `k` (for any channel): the cheap test before building an event.
    [[nodiscard]] bool wants_webhook(webhook_kind k) const noexcept {
        for (const webhook_target& t : webhooks) {
            if (t.wants(k)) {
                return true;
            }
        }
        return false;
    }
};

// How webhooks are batched, de-bounced, retried and bounded: one set for the whole server.
// Defaults follow Pusher (3 s de-bounce, retries for 5 minutes) and soketi/sockudo (50 ms
// batching window, 100 events a batch).
struct webhook_settings {
    std::uint32_t batch_window_ms = 50;
    std::uint32_t batch_max_events = 100;
    // channel_vacated / member_removed wait this long; a re-occupation or re-join inside it
    // cancels both the pending event and its opposite.
    std::uint32_t debounce_ms = 3000;
    // A batch is retried on any non-2xx answer or network error, the gaps doubling from
    // retry_initial_ms up to retry_max_ms (with jitter), until retry_for_ms after the first try.
    std::uint32_t retry_for_ms = 300'000;
    std::uint32_t retry_initial_ms = 1000;
    std::uint32_t retry_max_ms = 60'000;
    std::uint32_t connect_timeout_ms = 5000;
    std::uint32_t request_timeout_ms = 10'000;
    // Events waiting per app (batched or awaiting retry); beyond it new events are dropped,
    // counted, and logged once per interval.
    std::uint32_t max_pending_events = 10'000;
    // On SIGTERM/SIGINT, how long pending webhooks may still be sent.
    std::uint32_t shutdown_grace_ms = 3000;
    // PEM file of CAs for https targets; "" = the system's trusted roots.
    std::string ca_file;

    bool operator==(const webhook_settings&) const = default;
};

// Several nodes sharing state through Redis (off unless asked for: one node needs nothing else).
// Reverb's names work: REVERB_SCALING_ENABLED, REVERB_SCALING_CHANNEL, REDIS_URL, REDIS_HOST...
struct redis_settings {
    bool enabled = false;
    bool tls = false; // rediss://
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string username; // "" = none (AUTH with the password alone, or no AUTH)
    std::string password;
    std::uint32_t db = 0;
    // The namespace of every key and pub/sub channel, so deployments can share one Redis
    // (Reverb's REVERB_SCALING_CHANNEL, default "reverb").
    std::string prefix = "reverb";
    // With tls: the PEM file of CAs to verify Redis's certificate against ("" = the system's).
    std::string ca_file;
    // The server as "redis://host:port/db" with any password left out, for the log.
    [[nodiscard]] std::string display() const;

    bool operator==(const redis_settings&) const = default;
};

// A certificate the server presents over TLS: its chain (leaf first, then intermediates) and its
// private key, both PEM files, read at start and again on SIGHUP.
struct tls_certificate {
    std::string cert_file;
    std::string key_file;
    std::string passphrase; // for an encrypted key ("" = the key is not encrypted)

    bool operator==(const tls_certificate&) const = default;
};

// TLS served by ringcast itself, wss:// and https:// (off unless a certificate is given).
// soketi's SSL_CERT / SSL_KEY / SSL_PASSPHRASE / SSL_CA work, as do our RINGCAST_TLS_* names,
// `--tls-*` flags and the config file's "tls" object ("server.tls"). The certificates come whole
// from the first source that gives any (flags, environment, .env, file); the other settings each
// follow load()'s precedence.
struct tls_settings {
    // The first is the default; the others are chosen by the name the client asks for (SNI),
    // matched against each certificate's own names.
    std::vector<tls_certificate> certificates;
    // PEM file of CAs: when set, clients must present a certificate signed by one of them
    // (soketi's SSL_CA, as uWebSockets reads it). "" = no client certificates.
    std::string client_ca_file;
    std::string min_version = "1.2"; // "1.2" or "1.3"
    std::string ciphers;             // OpenSSL cipher list for TLS 1.2 ("" = OpenSSL's default)
    // Where TLS is served. port 0: the main listener (host:port) speaks TLS only. Otherwise a
    // second listener on host:port serves TLS and the main one stays plain, e.g. 443 for
    // browsers beside a loopback plain port for the app's publishes. host "" = the server's.
    std::string host;
    std::uint16_t port = 0;
    // TLS handshakes a shard carries at once; a connection over it is closed at accept.
    std::uint32_t max_handshakes = 1024;
    // Kernel TLS: true ("auto") hands each session's sending to the kernel after the handshake
    // where the kernel and the cipher allow; false ("off") encrypts everything in user space.
    bool ktls = true;

    [[nodiscard]] bool enabled() const noexcept { return !certificates.empty(); }
    bool operator==(const tls_settings&) const = default;
};

// The Prometheus scrape (GET /metrics) on a listener of its own, never on the public port.
struct metrics_settings {
    // 0: no metrics listener. soketi's METRICS_ENABLED alone gives soketi's port.
    std::uint16_t port = 0;
    // Loopback by default: the figures name apps and channel kinds, for the operator only.
    std::string host = "127.0.0.1";
    static constexpr std::uint16_t soketi_port = 9601;

    [[nodiscard]] bool enabled() const noexcept { return port != 0; }
};

// The debug console (server/console.h): a page, its live stream and its event creator under
// `path`, on the public port. Off unless a path is set; never open: without a configured token
// one is generated at start and printed in the banner.
struct console_settings {
    std::string path; // "/console" (normalised like --path; not under it); "" = off
    std::string token;

    [[nodiscard]] bool enabled() const noexcept { return !path.empty(); }
    bool operator==(const console_settings&) const = default;
};

struct server {
    std::string host = "0.0.0.0";
    std::uint16_t port = 8080;
    // URL prefix for every route (Reverb's --path / REVERB_SERVER_PATH), normalised to "" or
    // "/something" without a trailing slash.
    std::string path;
    // Public hostname, only used in what we print (Reverb uses it to find TLS certificates).
    std::string hostname;
    bool debug = false;
    // The log (core/log.h): least level printed ("debug", "info", "warn", "error"), format
    // ("text" or "json"), and what --debug shows: one app's frames, or those naming a channel
    // with this prefix ("" = all; either turns --debug on).
    std::string log_level = "info";
    std::string log_format = "text";
    std::string debug_app;
    std::string debug_channel;
    // Shards (threads); 0 means one per online CPU.
    unsigned threads = 0;

    // HTTP limits: request line + headers, and body (REST publishes with 10 events of 10 KB fit).
    std::uint32_t max_header_bytes = 16 * 1024;
    std::uint32_t max_body_bytes = 256 * 1024;
    // Seconds a connection may sit before completing an HTTP request or the WebSocket upgrade,
    // and idle between keep-alive requests.
    std::uint32_t handshake_timeout_s = 10;
    std::uint32_t http_idle_timeout_s = 60;
    // Bytes a connection may have queued for sending before it is treated as a slow consumer
    // and closed with 4100 (Pusher's "over capacity, reconnect with backoff").
    std::uint32_t max_pending_write_bytes = 4 * 1024 * 1024;

    webhook_settings webhooks;
    redis_settings redis;
    tls_settings tls;
    metrics_settings metrics;
    console_settings console;

    std::vector<app> apps;
    // Not a setting: how long `ringcast restart` records events to replay to the clients that
    // move over from the old server (pusher/replay.h); 0 for a plain start.
    std::uint32_t takeover_replay_ms = 0;

    // Where the apps came from, for the start-up banner: "config file", "environment", or
    // "built-in development default".
    std::string apps_source;
};

// What `ringcast ...` was asked to do.
struct command_line {
    // restart: start, taking the port over from the server running there (server/takeover.h).
    // doctor: check a Laravel .env against the running server (doctor/doctor.h).
    enum class action { start, restart, doctor, help, version } what = action::start;
    server settings;
    std::string env_file;  // doctor: the --env file
    std::string help_text; // filled for action::help
};

// Reads argv (argv[0] is the program), the process environment `envp` (NULL-terminated, as
// main's third argument), the .env file named by --env (process environment wins over it, as
// in Laravel) and the JSON file named by --config. Precedence for each server setting:
// command-line flag > environment > .env > JSON file > default. Apps come from the JSON file,
// else REVERB_APP_ID/KEY/SECRET, else a printed development default. On failure, the one clear
// message (naming the flag, variable or JSON key at fault) to print before exiting with status 1.
[[nodiscard]] core::result<command_line> load(int argc, const char* const* argv, const char* const* envp);

// The usage text of `ringcast start --help`.
[[nodiscard]] std::string usage();

// Variables by name, as found in the process environment or a .env file. Transparent comparison
// so lookups by string_view do not allocate.
using variables = std::map<std::string, std::string, std::less<>>;

// Parses the text of a Laravel .env file, following phpdotenv for the syntax Laravel projects
// use: KEY=VALUE lines, blank lines, `#` comments, an optional `export ` prefix; double-quoted
// values (may span lines; \n \r \t \" \\ \$ escapes; ${VAR} interpolated), single-quoted
// values (literal), unquoted values (trimmed, ` # comment` stripped, ${VAR} interpolated).
// ${VAR} resolves from `process_env` first (it wins over the file, as in Laravel), then from
// keys earlier in the file, else to "". A later line for the same key replaces an earlier one.
// Returns the variables the file sets, or one message ("line N: ...").
[[nodiscard]] core::result<variables> parse_dotenv(std::string_view text, const variables& process_env);

} // namespace ringcast::config
