// The command line: `ringcast start [flags]`, help and version, and the usage text.
#include "detail.h"

#include <utility>

namespace ringcast::config {
namespace detail {
namespace {

// One flag that takes a value. `wanted` completes "--flag: expected ..." in error messages.
struct value_flag {
    std::string_view name;
    std::string_view wanted;
};

// One flag per line reads as the table it is.
// clang-format off
constexpr value_flag value_flags[] = {
    {"--host", "an address to listen on"},
    {"--port", "a number from 1 to 65535"},
    {"--path", "a URL path prefix"},
    {"--hostname", "a host name"},
    {"--threads", "a number from 1 to 1024"},
    {"--env", "the name of a .env file"},
    {"--config", "the name of a JSON file"},
    {"--redis", "a redis:// or rediss:// URL"},
    {"--metrics-port", "a number from 1 to 65535"},
    {"--metrics-host", "an address to listen on"},
    {"--log-level", "debug, info, warn or error"},
    {"--log-format", "text or json"},
    {"--debug-app", "an app id"},
    {"--debug-channel", "a channel name prefix"},
    {"--console", "a URL path such as /console"},
    {"--console-token", "a token of 16 characters or more"},
    {"--tls-cert", "a certificate chain file (PEM)"},
    {"--tls-key", "a private key file (PEM)"},
    {"--tls-passphrase", "the passphrase of the key"},
    {"--tls-client-ca", "a file of CA certificates (PEM)"},
    {"--tls-min-version", "1.2 or 1.3 (or TLSv1.2, TLSv1.3)"},
    {"--tls-ciphers", "an OpenSSL cipher list"},
    {"--tls-port", "a number from 1 to 65535"},
    {"--tls-host", "an address to listen on"},
    {"--tls-max-handshakes", "a number from 1 to 4294967295"},
    {"--tls-ktls", "off or auto"},
};
// clang-format on

// --log-level, --log-format, --debug-app, --debug-channel: false for a value they cannot take.
bool set_log_flag(std::string_view name, std::string_view value, flags& out) {
    if (name == "--log-level") {
        out.log_level = parse_log_level(value);
        return out.log_level.has_value();
    }
    if (name == "--log-format") {
        out.log_format = parse_log_format(value);
        return out.log_format.has_value();
    }
    (name == "--debug-app" ? out.debug_app : out.debug_channel) = value;
    return !value.empty();
}

// --metrics-port, --metrics-host: false for a value they cannot take.
bool set_metrics_flag(std::string_view name, std::string_view value, flags& out) {
    if (name == "--metrics-host") {
        out.metrics_host = value;
        return !value.empty();
    }
    auto n = parse_number(value, 1, 65535);
    out.metrics_port = static_cast<std::uint16_t>(n.value_or(0));
    return n.has_value();
}

// --console, --console-token: false for a value they cannot take.
bool set_console_flag(std::string_view name, std::string_view value, flags& out) {
    if (name == "--console-token") {
        out.console_token = value;
        return value.size() >= min_console_token;
    }
    auto p = normalise_path(value);
    if (!p || p->empty()) {
        return false;
    }
    out.console_path = std::move(*p);
    return true;
}

const value_flag* find_value_flag(std::string_view name) {
    for (const value_flag& f : value_flags) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

// Stores one flag's value, or fails with the message naming the flag.
core::status set_flag(const value_flag& f, std::string_view value, flags& out) {
    if (f.name.starts_with("--tls-")) {
        return set_tls_flag(f.name, f.wanted, value, out.tls);
    }
    auto bad = [&] {
        return core::failure(std::string(f.name) + ": expected " + std::string(f.wanted) + ", got " +
                             in_quotes(value));
    };
    if (f.name == "--host") {
        if (value.empty()) {
            return bad();
        }
        out.host = value;
    } else if (f.name == "--port") {
        auto n = parse_number(value, 1, 65535);
        if (!n) {
            return bad();
        }
        out.port = static_cast<std::uint16_t>(*n);
    } else if (f.name == "--path") {
        auto p = normalise_path(value);
        if (!p) {
            return bad();
        }
        out.path = std::move(*p);
    } else if (f.name == "--hostname") {
        out.hostname = value;
    } else if (f.name == "--threads") {
        // 0 (one shard per CPU) is the default; on the command line only explicit counts make sense.
        auto n = parse_number(value, 1, max_threads);
        if (!n) {
            return bad();
        }
        out.threads = static_cast<unsigned>(*n);
    } else if (f.name == "--env" || f.name == "--config") {
        if (value.empty()) {
            return bad();
        }
        (f.name == "--env" ? out.env_file : out.config_file) = value;
    } else if (f.name == "--metrics-port" || f.name == "--metrics-host") {
        return set_metrics_flag(f.name, value, out) ? core::ok() : bad();
    } else if (f.name.starts_with("--log-") || f.name.starts_with("--debug-")) {
        return set_log_flag(f.name, value, out) ? core::ok() : bad();
    } else if (f.name.starts_with("--console")) {
        return set_console_flag(f.name, value, out) ? core::ok() : bad();
    } else if (f.name == "--redis") {
        redis_settings parsed;
        if (core::status s = parse_redis_url(value, parsed); !s) {
            // The URL may hold a password, which a message (often pasted into issues) must not.
            return core::failure("--redis: " + s.message() + ", got " + in_quotes(redact_redis_url(value)));
        }
        out.redis = std::move(parsed);
    }
    return core::ok();
}

// The flag's field if `name` is a flag without a value, else null.
bool* switch_flag(std::string_view name, flags& out) {
    if (name == "--debug") {
        return &out.debug;
    }
    if (name == "--allow-dev-credentials") {
        return &out.allow_dev_credentials;
    }
    return nullptr;
}

bool is_help(std::string_view arg) {
    return arg == "--help" || arg == "-h" || arg == "help";
}

} // namespace

core::result<parsed_command> parse_command_line(int argc, const char* const* argv) {
    parsed_command result;
    if (argc < 2 || is_help(argv[1])) {
        result.what = command_line::action::help;
        return result;
    }
    std::string_view command = argv[1];
    if (command == "--version" || command == "-V" || command == "version") {
        result.what = command_line::action::version;
        return result;
    }
    if (command != "start" && command != "restart" && command != "doctor") {
        return core::failure("unknown command " + in_quotes(command) + " (see ringcast --help)");
    }
    result.what = command == "restart"  ? command_line::action::restart
                  : command == "doctor" ? command_line::action::doctor
                                        : command_line::action::start;

    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            result.what = command_line::action::help;
            return result;
        }
        if (!arg.starts_with("--")) {
            return core::failure("unexpected argument " + in_quotes(arg) + " (see ringcast start --help)");
        }
        std::size_t eq = arg.find('=');
        std::string_view name = arg.substr(0, eq);
        if (bool* on = switch_flag(name, result.values)) {
            if (eq != std::string_view::npos) {
                return core::failure(std::string(name) + ": takes no value, got " +
                                     in_quotes(arg.substr(eq + 1)));
            }
            *on = true;
            continue;
        }
        const value_flag* f = find_value_flag(name);
        if (f == nullptr) {
            return core::failure("unknown flag " + in_quotes(name) + " (see ringcast start --help)");
        }
        std::string_view value;
        if (eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
        } else if (i + 1 < argc && !std::string_view(argv[i + 1]).starts_with("--")) {
            // A following "--flag" is never taken as a value: `--host --debug` is a forgotten value.
            value = argv[++i];
        } else {
            return core::failure(std::string(f->name) + ": expected " + std::string(f->wanted));
        }
        if (core::status s = set_flag(*f, value, result.values); !s) {
            return s;
        }
    }
    return result;
}

} // namespace detail

namespace {

// The usage text with {name} placeholders for defaults, filled from the structs themselves so the
// text cannot drift from the code.
constexpr std::string_view usage_template = R"(Usage: ringcast start [flags]
       ringcast restart [flags]
       ringcast doctor --env FILE
       ringcast --help | --version

Runs a Pusher-protocol WebSocket server for Laravel broadcasting. `ringcast start` replaces
`php artisan reverb:start`: it reads the same REVERB_* settings, and pusher-js, Laravel Echo
and Laravel's broadcaster connect to it unchanged.

`ringcast restart` (like `php artisan reverb:restart`) starts a new server with the same flags
that takes the port over from the ringcast running there (found through /proc: same user,
same address): new connections go to the new server at once, the old one answers its requests
in progress, closes its WebSockets with 4200 (pusher-js reconnects at once, to the new one)
and exits. No connection is refused and no publish fails on the way. With nothing on the
port it is a plain start. Run it as the user the server runs as.

`ringcast doctor --env FILE` checks a Laravel app's .env against the running server, one
verdict per line with the fix: BROADCAST_CONNECTION, the app id, key and secret, the host,
port and scheme the app publishes to and their VITE_* copies, known typos (REVERB_REVERB_PORT),
then the server at that address: reachable, its TLS certificate (https), the WebSocket
handshake with the key, a signed publish with the id and secret. Exits 1 on any failure.

Flags of start and restart (--flag value or --flag=value):
  --host HOST       address to listen on (default {host})
  --port PORT       port to listen on, 1-65535 (default {port})
  --path PATH       URL prefix of every route, e.g. /ws (default: none)
  --hostname NAME   public host name shown in the start-up banner (default: none)
  --debug           log every frame in and out (default: off)
  --debug-app ID    with --debug (implied): only this app's frames
  --debug-channel PREFIX    with --debug (implied): only frames naming a channel that starts so
  --log-level LEVEL debug, info, warn or error: the least level logged (default {log_level});
                    debug is --debug
  --log-format F    text, or json for one JSON object per line (default {log_format})
  --threads N       shards (threads), 1-1024 (default: one per CPU)
  --env FILE        read the variables below from a Laravel .env file (default: none);
                    the process environment wins over the file, as in Laravel
  --config FILE     JSON file of server settings and apps, see below (default: none)
  --redis URL       scale across nodes through Redis: redis://[[user]:password@]host[:port][/db]
                    or rediss:// for TLS; enables scaling (default: off, one node)
  --metrics-port PORT   serve Prometheus metrics (GET /metrics) on this port (default: off)
  --metrics-host HOST   address of the metrics port (default {metrics_host}; never the public port)
  --console PATH    serve the debug console (a page with live connections, channels and
                    events, and an event creator) at this path of the public port (default: off)
  --console-token T the console's token, 16 characters or more (default: one is generated at
                    start and shown in the banner; an app's secret also opens that app)
  --allow-dev-credentials   serve the development app (secret app-secret, public) on an
                    address other than loopback; refused without this flag
  --tls-cert FILE   serve wss:// and https:// with this certificate chain (PEM, leaf first);
                    repeat for more certificates, chosen by SNI (the first is the default)
  --tls-key FILE    the private key (PEM) of the --tls-cert in the same position
  --tls-passphrase P        of encrypted keys: once for all, or once per --tls-cert in order
  --tls-client-ca FILE      require client certificates signed by these CAs (PEM; default: none)
  --tls-min-version V       1.2 or 1.3 (default {tls_min_version})
  --tls-ciphers LIST        OpenSSL cipher list for TLS 1.2 (default: OpenSSL's)
  --tls-port PORT   serve TLS on a second listener on this port, the main one staying plain
                    (default: the main listener speaks TLS only)
  --tls-host HOST   address of that second listener (default: --host's)
  --tls-max-handshakes N    TLS handshakes a shard carries at once; beyond it new connections
                    are closed (default {tls_max_handshakes})
  --tls-ktls MODE   auto: the kernel encrypts what is sent after the handshake where it can
                    (kernel TLS); off: everything is encrypted in user space (default auto)
  --help            show this text

Environment variables (also read from the --env file):
  REVERB_SERVER_HOST, REVERB_SERVER_PORT, REVERB_SERVER_PATH   as --host, --port, --path
  REVERB_HOST                  as --hostname
  REVERB_MAX_REQUEST_SIZE      largest HTTP request body in bytes (default {max_body_bytes})
  REVERB_APP_ID, REVERB_APP_KEY, REVERB_APP_SECRET   one app; all three or none
  REVERB_APP_PING_INTERVAL     seconds (default {ping})
  REVERB_APP_ACTIVITY_TIMEOUT  seconds (default {activity})
  REVERB_APP_MAX_CONNECTIONS   per app (default: unlimited)
  REVERB_APP_MAX_MESSAGE_SIZE  bytes (default {max_message_size})
  REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM   all, members or none (default members)
  REVERB_APP_RATE_LIMITING_ENABLED       limit inbound messages per connection (default false)
  REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS     messages per window (default {rate_limit_max_attempts})
  REVERB_APP_RATE_LIMIT_DECAY_SECONDS    the window in seconds (default {rate_limit_decay})
  REVERB_APP_RATE_LIMIT_TERMINATE        close the connection instead of an error (default false)
  RINGCAST_WEBHOOK_URL         http(s) URL to POST the app's webhooks to (default: none)
  RINGCAST_WEBHOOK_EVENTS      comma-separated event types (default: all but subscription_count)
  RINGCAST_WEBHOOK_BATCH_MS              as server.webhooks.batch_window_ms (milliseconds)
  RINGCAST_WEBHOOK_DEBOUNCE_MS           as server.webhooks.debounce_ms
  RINGCAST_WEBHOOK_RETRY_FOR_MS          as server.webhooks.retry_for_ms
  RINGCAST_WEBHOOK_CA_FILE               as server.webhooks.ca_file
  RINGCAST_METRICS_PORT, RINGCAST_METRICS_HOST   as --metrics-port, --metrics-host
  RINGCAST_CONSOLE, RINGCAST_CONSOLE_TOKEN   as --console, --console-token
  RINGCAST_LOG_LEVEL, RINGCAST_LOG_FORMAT         as --log-level, --log-format
  METRICS_ENABLED, METRICS_SERVER_PORT   soketi's names: metrics on (port {metrics_port}), its port
  REVERB_SCALING_ENABLED       scale across nodes through Redis (default false)
  REVERB_SCALING_CHANNEL       prefix of every Redis key and channel (default {redis_prefix})
  REDIS_URL                    as --redis; when set, the REDIS_* parts below are not read
  REDIS_HOST, REDIS_PORT, REDIS_DB       the server (default {redis_host}, {redis_port}, 0)
  REDIS_USERNAME, REDIS_PASSWORD         credentials (default: none)
  REDIS_SCHEME                 tcp or tls (default tcp)
  RINGCAST_TLS_CERT, RINGCAST_TLS_KEY   as --tls-cert, --tls-key (one certificate)
  RINGCAST_TLS_PASSPHRASE, RINGCAST_TLS_CLIENT_CA     as --tls-passphrase, --tls-client-ca
  SSL_CERT, SSL_KEY, SSL_PASSPHRASE, SSL_CA   soketi's names of the four above; RINGCAST_TLS_*
                               win over them. SSL_CA, as in soketi, requires client certificates
  RINGCAST_TLS_MIN_VERSION, RINGCAST_TLS_CIPHERS      as --tls-min-version, --tls-ciphers
  RINGCAST_TLS_PORT, RINGCAST_TLS_HOST  as --tls-port, --tls-host
  RINGCAST_TLS_MAX_HANDSHAKES  as --tls-max-handshakes
  RINGCAST_TLS_KTLS            as --tls-ktls
  REDIS_* are read only when scaling is enabled: Laravel sets them for its cache and queues
  too. REDIS_TIMEOUT is not read.
  Booleans are true/false, (true)/(false), 1/0 or yes/no, in any case.
  REVERB_PORT and REVERB_SCHEME describe where the app publishes and browsers connect (e.g.
  443 and https through a proxy) and are not read: REVERB_SERVER_PORT is where ringcast
  listens. Empty values and null count as unset, as with Laravel's env(). Other REVERB_*,
  PUSHER_* and RINGCAST_* names are warned about (with the closest known name), as likely typos.

Each server setting comes from the first of: flag, environment, .env file, JSON file, default.
The TLS certificates come whole from the first of them that gives any.
Apps come from the JSON file's "apps", else REVERB_APP_*, else the development default app
(id app-id, key app-key, secret app-secret).

JSON file (--config); every key is optional except each app's id (or app_id), key and secret,
and unknown keys are errors:
  {"server": {"host": "{host}", "port": {port}, "path": "", "hostname": "", "debug": false,
              "log_level": "{log_level}", "log_format": "{log_format}", "debug_app": "", "debug_channel": "",
              "threads": 0, "max_header_bytes": {max_header_bytes}, "max_body_bytes": {max_body_bytes},
              "handshake_timeout": {handshake_timeout}, "http_idle_timeout": {http_idle_timeout},
              "max_pending_write_bytes": {max_pending_write_bytes},
              "webhooks": {"batch_window_ms": {batch_window_ms}, "batch_max_events": {batch_max_events},
                           "debounce_ms": {debounce_ms}, "retry_for_ms": {retry_for_ms},
                           "retry_initial_ms": {retry_initial_ms}, "retry_max_ms": {retry_max_ms},
                           "connect_timeout_ms": {connect_timeout_ms}, "request_timeout_ms": {request_timeout_ms},
                           "max_pending_events": {max_pending_events}, "shutdown_grace_ms": {shutdown_grace_ms},
                           "ca_file": ""},
              "redis": {"enabled": false, "prefix": "{redis_prefix}",
                        "url": "redis://{redis_host}:{redis_port}/0"},
              "metrics": {"port": 0, "host": "{metrics_host}"},
              "console": {"path": "/console", "token": "at least 16 characters"},
              "tls": {"cert": "/etc/ringcast/cert.pem", "key": "/etc/ringcast/key.pem", "passphrase": "",
                      "certificates": [{"cert": "other.pem", "key": "other.key", "passphrase": ""}],
                      "client_ca": "", "min_version": "{tls_min_version}", "ciphers": "", "port": 8443,
                      "host": "", "max_handshakes": {tls_max_handshakes}, "ktls": "auto"}},
   "apps": [{"id": "1", "key": "...", "secret": "...", "enabled": true,
             "activity_timeout": {activity}, "ping_interval": {ping}, "pong_timeout": {pong},
             "max_message_size": {max_message_size}, "max_event_payload_bytes": {max_event_payload_bytes},
             "max_event_channels": {max_event_channels}, "max_event_name_length": {max_event_name_length},
             "max_channel_name_length": {max_channel_name_length}, "max_batch_size": {max_batch_size},
             "max_connections": null, "allowed_origins": ["*"],
             "accept_client_events_from": "members", "max_client_events_per_second": 10,
             "max_presence_members": 100, "max_presence_member_size": 1024,
             "max_presence_user_id_length": 128, "cache_ttl": 1800, "subscription_count": false,
             "authorized_connections_timeout": 0, "watchlist_limit": 100,
             "max_subscriptions_per_connection": 1000,
             "rate_limiting": {"enabled": false, "max_attempts": {rate_limit_max_attempts},
                               "decay_seconds": {rate_limit_decay}, "terminate_on_limit": false},
             "max_backend_events_per_second": 0, "max_read_requests_per_second": 0,
             "webhooks": [{"url": "https://example.com/pusher/webhook",
                           "event_types": ["channel_occupied", "channel_vacated"],
                           "headers": {"X-Custom": "value"},
                           "filter": {"channel_name_starts_with": "private-",
                                      "channel_name_ends_with": ""}}]}]}
  Timeouts and intervals are in seconds; "max_connections": null means unlimited, and so does
  0 for the two per-second API limits; "threads": 0 means one per CPU.
  App keys may also be written in camelCase, and soketi's app settings are accepted as aliases
  (enableClientMessages, maxEventPayloadInKb, maxPresenceMemberSizeInKb, maxEventBatchSize,
  enableUserAuthentication, ...; -1 means unlimited).
  Webhooks use soketi's keys (eventTypes, channelNameStartsWith, ... in camelCase too); the
  event types are channel_occupied, channel_vacated, member_added, member_removed,
  client_event, cache_miss and subscription_count, and a target without "event_types" gets all
  but subscription_count. Webhook timings are in milliseconds; "ca_file" is a PEM file of CAs
  for https targets ("" = the system's). AWS Lambda targets are not supported.
  "redis" takes a "url" (which also enables scaling unless "enabled" says otherwise) or its
  parts "host", "port", "username", "password", "db" (0-{max_redis_db}) and "tls", not both.
  "tls" is off without a certificate: "cert" and "key" make the default one, "certificates"
  adds those chosen by SNI (either alone is fine); the other keys are the --tls-* flags'.
  Without "port", the main listener speaks TLS only. Certificate files are read at start.
)";

} // namespace

std::string usage() {
    const server s;
    const app a;
    const std::pair<std::string_view, std::string> defaults[] = {
        {"{host}", s.host},
        {"{port}", std::to_string(s.port)},
        {"{max_header_bytes}", std::to_string(s.max_header_bytes)},
        {"{max_body_bytes}", std::to_string(s.max_body_bytes)},
        {"{handshake_timeout}", std::to_string(s.handshake_timeout_s)},
        {"{http_idle_timeout}", std::to_string(s.http_idle_timeout_s)},
        {"{max_pending_write_bytes}", std::to_string(s.max_pending_write_bytes)},
        {"{batch_window_ms}", std::to_string(s.webhooks.batch_window_ms)},
        {"{batch_max_events}", std::to_string(s.webhooks.batch_max_events)},
        {"{debounce_ms}", std::to_string(s.webhooks.debounce_ms)},
        {"{retry_for_ms}", std::to_string(s.webhooks.retry_for_ms)},
        {"{retry_initial_ms}", std::to_string(s.webhooks.retry_initial_ms)},
        {"{retry_max_ms}", std::to_string(s.webhooks.retry_max_ms)},
        {"{connect_timeout_ms}", std::to_string(s.webhooks.connect_timeout_ms)},
        {"{request_timeout_ms}", std::to_string(s.webhooks.request_timeout_ms)},
        {"{max_pending_events}", std::to_string(s.webhooks.max_pending_events)},
        {"{shutdown_grace_ms}", std::to_string(s.webhooks.shutdown_grace_ms)},
        {"{redis_prefix}", s.redis.prefix},
        {"{metrics_host}", s.metrics.host},
        {"{log_level}", s.log_level},
        {"{log_format}", s.log_format},
        {"{metrics_port}", std::to_string(metrics_settings::soketi_port)},
        {"{redis_host}", s.redis.host},
        {"{redis_port}", std::to_string(s.redis.port)},
        {"{max_redis_db}", std::to_string(detail::max_redis_db)},
        {"{tls_min_version}", s.tls.min_version},
        {"{tls_max_handshakes}", std::to_string(s.tls.max_handshakes)},
        {"{activity}", std::to_string(a.activity_timeout_s)},
        {"{ping}", std::to_string(a.ping_interval_s)},
        {"{pong}", std::to_string(a.pong_timeout_s)},
        {"{max_message_size}", std::to_string(a.max_message_size)},
        {"{max_event_payload_bytes}", std::to_string(a.max_event_payload_bytes)},
        {"{max_event_channels}", std::to_string(a.max_event_channels)},
        {"{max_event_name_length}", std::to_string(a.max_event_name_length)},
        {"{max_channel_name_length}", std::to_string(a.max_channel_name_length)},
        {"{max_batch_size}", std::to_string(a.max_batch_size)},
        {"{rate_limit_max_attempts}", std::to_string(a.rate_limit_max_attempts)},
        {"{rate_limit_decay}", std::to_string(a.rate_limit_decay_s)},
    };
    std::string text(usage_template);
    for (const auto& [placeholder, value] : defaults) {
        for (std::size_t at = text.find(placeholder); at != std::string::npos;
             at = text.find(placeholder, at + value.size())) {
            text.replace(at, placeholder.size(), value);
        }
    }
    return text;
}

} // namespace ringcast::config
