// Private to src/config: the pieces load() stitches together (command line, JSON file,
// environment) and the value parsers they share, so every source reports bad values alike.
#pragma once

#include "ringcast/config/config.h"
#include "ringcast/core/status.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::config::detail {

inline constexpr std::uint64_t max_u32 = std::numeric_limits<std::uint32_t>::max();
// Upper bound of every timeout and interval: a day is beyond any sensible setting and keeps the
// millisecond arithmetic of the timers far from overflowing 32 bits.
inline constexpr std::uint64_t max_seconds = 86'400;
inline constexpr std::uint64_t max_threads = 1024;
// The console's token opens every app's live view: short ones could be guessed.
inline constexpr std::size_t min_console_token = 16;

// A decimal number in [min, max]: digits only (no sign, spaces or fraction); nullopt otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t min,
                                                        std::uint64_t max);

// `text` equals `lower` (all lowercase) in any case: ASCII letters only, as in the names and
// keywords of settings.
[[nodiscard]] bool equals_lowercase(std::string_view text, std::string_view lower);

// A log level ("debug", "info", "warn" or "warning", "error", any case) or format ("text",
// "json") as stored in server::log_level / log_format; nullopt for anything else. The phrases
// complete "expected ..." in messages.
[[nodiscard]] std::optional<std::string> parse_log_level(std::string_view text);
[[nodiscard]] std::optional<std::string> parse_log_format(std::string_view text);
inline constexpr std::string_view log_level_wanted = "debug, info, warn or error";
inline constexpr std::string_view log_format_wanted = "text or json";

// "expected a number from MIN to MAX", the common phrase of every range error.
[[nodiscard]] std::string expected_range(std::uint64_t min, std::uint64_t max);

// `text` in double quotes, for messages that echo what the user wrote.
[[nodiscard]] std::string in_quotes(std::string_view text);

// A URL prefix as "" or "/a/b" (leading slash added, trailing slashes removed); nullopt when it
// holds characters that cannot be part of a path (whitespace, controls, '?', '#').
[[nodiscard]] std::optional<std::string> normalise_path(std::string_view path);

[[nodiscard]] std::optional<client_events_from> parse_client_events_from(std::string_view text);

// An app key as matched: soketi's camelCase spelling becomes snake_case ("maxConnections" ->
// "max_connections"); any other key is returned as written.
[[nodiscard]] std::string snake_case(std::string_view key);

// The setting a snake_case app key sets: an alias (Reverb's "app_id", soketi's
// "max_event_batch_size", ...) gives the name of our setting ("id", "max_batch_size"), any other
// key itself. Returns a view of `key` or of a static table.
[[nodiscard]] std::string_view app_setting(std::string_view key);

// Upper bound of the webhook timings, which are in milliseconds: the same day as max_seconds.
inline constexpr std::uint64_t max_milliseconds = max_seconds * 1000;

// The bit of `k` in webhook_target::event_types.
[[nodiscard]] constexpr std::uint32_t webhook_bit(webhook_kind k) noexcept {
    return 1U << static_cast<unsigned>(k);
}

// What a target gets when it names no event types: every Pusher webhook except
// subscription_count, which Pusher sends only to apps that opt in (it fires on every join).
[[nodiscard]] std::uint32_t default_webhook_events() noexcept;

// The webhook readers shared by the JSON file and the environment (webhooks.cpp). Each failure
// message says what is wrong without saying where the value came from; the caller puts the key
// path or the variable name in front.

// A DNS name (labels of letters, digits, '-' and '_'), or an IPv4 address when it is only
// digits and dots (so "300.1.1.1" is refused here rather than sent to the resolver as a name).
[[nodiscard]] core::status check_host_name(std::string_view host);
// A URL's "host", "host:port", "[v6]" or "[v6]:port": the host checked by check_host (as
// stored: no brackets) and the port (`default_port` when none is written).
[[nodiscard]] core::status parse_url_authority(std::string_view authority, std::uint16_t default_port,
                                               std::string& host, std::uint16_t& port);
// The port of a URL from its ":digits" suffix as split off the authority ("" gives `fallback`).
[[nodiscard]] core::result<std::uint16_t> url_port(std::string_view suffix, std::uint16_t fallback);

// No spaces, controls or non-ASCII characters: what every URL we read must hold.
[[nodiscard]] core::status check_url_characters(std::string_view url);

// Checks an http:// or https:// URL and fills url, tls, host, port and request_target of `out`.
[[nodiscard]] core::status parse_webhook_url(std::string_view url, webhook_target& out);

// One of Pusher's event type names; the failure names it and lists the valid ones.
[[nodiscard]] core::result<webhook_kind> parse_webhook_kind(std::string_view name);

// A comma-separated list of event type names (spaces around the commas allowed) as a bit set.
[[nodiscard]] core::result<std::uint32_t> parse_webhook_kinds(std::string_view list);

// A header the configuration adds to every request of a target: the name an HTTP token, the
// value without CR, LF or NUL, and none of the headers ringcast writes itself.
[[nodiscard]] core::status check_webhook_header(std::string_view name, std::string_view value);

// The CA file of https targets is read at start, so a typo is refused then and not at the first
// webhook; the failure is "cannot read FILE: REASON".
[[nodiscard]] core::status check_ca_file(const std::string& file);

// The Redis readers shared by the command line, the environment and the JSON file (redis.cpp);
// as with the webhook readers, the caller puts the flag, variable or key in front. No message
// repeats a password.
inline constexpr std::uint16_t default_redis_port = 6379;
// Redis numbers its databases with a signed 32-bit int (the `databases` setting bounds them).
inline constexpr std::uint64_t max_redis_db = 2'147'483'647;
inline constexpr std::size_t max_redis_prefix = 100;

// redis://[[username]:password@]host[:port][/db] or rediss:// (tls): sets tls, host, port,
// username, password and db of `out` (a URL is the whole connection: what it leaves out is the
// default), user and password percent-decoded; refuses query parameters. `out` is untouched on
// failure; enabled and prefix never change.
[[nodiscard]] core::status parse_redis_url(std::string_view url, redis_settings& out);

// The URL as a message may echo it: the password (or a lone userinfo) as "***" and any query
// as "?...".
[[nodiscard]] std::string redact_redis_url(std::string_view url);

// A DNS name, an IPv4 address or an IPv6 address (with or without brackets), returned as
// stored: IPv6 without brackets.
[[nodiscard]] core::result<std::string> check_host(std::string_view host);

// REVERB_SCALING_CHANNEL's rules: 1 to max_redis_prefix characters, no spaces or controls.
[[nodiscard]] core::status check_redis_prefix(std::string_view prefix);

// The whole file, or a failure whose message is strerror(errno).
[[nodiscard]] core::result<std::string> read_file(const std::string& path);

// The TLS readers shared by the command line, the environment and the JSON file (tls.cpp).

// "1.2" or "1.3" from "1.2", "1.3", "TLSv1.2" or "TLSv1.3" (the "TLSv" in any case); nullopt
// otherwise.
[[nodiscard]] std::optional<std::string> parse_tls_version(std::string_view text);
// What a TLS version must be, for messages: "expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3)".
inline constexpr std::string_view tls_version_wanted = "expected 1.2 or 1.3 (or TLSv1.2, TLSv1.3)";
// Kernel TLS: "auto" (true) or "off" (false), any case; nullopt for anything else.
[[nodiscard]] std::optional<bool> parse_ktls(std::string_view text);
inline constexpr std::string_view ktls_wanted = "expected off or auto";

// Which flag, variable or key set what the checks made once every source is read may have to
// name (check_tls). Each source overwrites what a lower one recorded, so the name is that of the
// value in effect; a name from a file starts with "FILE: ".
struct tls_sources {
    std::string setting; // one that set a TLS setting other than the certificates ("" = none)
    std::string port;    // the one that set tls.port ("" = none)
};

// The --tls-* flags as given: certificates, keys and passphrases in order (the Nth of each make
// one certificate), the others as the last one given.
struct tls_flags {
    std::vector<std::string> certs;
    std::vector<std::string> keys;
    std::vector<std::string> passphrases;
    std::optional<std::string> client_ca;
    std::optional<std::string> min_version; // normalised: "1.2" or "1.3"
    std::optional<std::string> ciphers;
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    std::optional<std::uint32_t> max_handshakes;
    std::optional<bool> ktls;
};

// Stores the value of one --tls-* flag that takes a value; `wanted` completes
// "FLAG: expected ..." when it is refused. Passphrases are never echoed.
[[nodiscard]] core::status set_tls_flag(std::string_view name, std::string_view wanted,
                                        std::string_view value, tls_flags& out);

// Applies the --tls-* flags over `out`: their certificates (when any) replace the other
// sources'. Fails when the certificates, keys and passphrases do not pair up.
[[nodiscard]] core::status apply_tls_flags(const tls_flags& flags, tls_settings& out, tls_sources& names);

// The checks that need every source read: TLS settings without a certificate, and a TLS port
// that is the plain one on the same address. `names` says what to name.
[[nodiscard]] core::status check_tls(const server& s, const tls_sources& names);

// What the command line asked for; settings left unset fall through to the other sources.
struct flags {
    std::optional<std::string> host;
    std::optional<std::uint16_t> port;
    std::optional<std::string> path;
    std::optional<std::string> hostname;
    bool debug = false;
    std::optional<unsigned> threads;
    std::optional<std::string> env_file;
    std::optional<std::string> config_file;
    // --redis URL: the connection fields it sets (enabled and prefix left at their defaults).
    std::optional<redis_settings> redis;
    // --allow-dev-credentials: serve the development app's public secret beyond loopback.
    bool allow_dev_credentials = false;
    std::optional<std::uint16_t> metrics_port;
    std::optional<std::string> metrics_host;
    std::optional<std::string> log_level;
    std::optional<std::string> log_format;
    std::optional<std::string> debug_app;
    std::optional<std::string> debug_channel;
    std::optional<std::string> console_path;
    std::optional<std::string> console_token;
    tls_flags tls;
};

struct parsed_command {
    command_line::action what = command_line::action::start;
    flags values;
};

// The command and its flags, or a message naming the argument at fault.
[[nodiscard]] core::result<parsed_command> parse_command_line(int argc, const char* const* argv);

// Reads the JSON file over `out` (which holds the defaults). Sets `has_apps` when the file
// lists apps (then they replace out.apps), and records in `tls` the keys of "server.tls" that
// check_tls may name. Fails with a message naming the file and key, and then leaves `out`
// untouched.
[[nodiscard]] core::status read_json_config(const std::string& file, server& out, bool& has_apps,
                                            tls_sources& tls);

// The process environment layered over the --env file (the process wins, as in Laravel).
struct environment {
    const variables& process;
    const variables& dotenv;
    std::string dotenv_file; // for messages about values that came from it
};

// Applies the REVERB_SERVER_* / REVERB_HOST / REVERB_MAX_REQUEST_SIZE / RINGCAST_WEBHOOK_*
// server variables and Reverb's scaling ones (REVERB_SCALING_*, REDIS_*) over `out`;
// `redis_flag` says --redis was given, whose URL replaces the REDIS_* connection variables.
// Fails with a message naming the variable (and the .env file when it came from there).
[[nodiscard]] core::status apply_server_environment(const environment& env, bool redis_flag, server& out);

// Applies the TLS variables over `out`: RINGCAST_TLS_* and soketi's SSL_CERT, SSL_KEY,
// SSL_PASSPHRASE and SSL_CA (a RINGCAST_TLS_* name wins over its SSL_* one). A certificate given
// here (one: SNI certificates need the JSON file or the flags) replaces the JSON file's. Records
// in `names` the variables check_tls may name.
[[nodiscard]] core::status apply_tls_environment(const environment& env, tls_settings& out,
                                                 tls_sources& names);

// Whether REVERB_APP_ID, REVERB_APP_KEY or REVERB_APP_SECRET is set (to warn when the JSON
// file's apps take their place).
[[nodiscard]] bool names_an_app(const environment& env);

// Whether RINGCAST_WEBHOOK_URL or RINGCAST_WEBHOOK_EVENTS is set (to warn when the JSON file's
// apps, which carry their own webhooks, take the place of the environment's app).
[[nodiscard]] bool names_a_webhook(const environment& env);

// "FILE and the process environment", for messages about a value not found.
[[nodiscard]] std::string searched(const environment& env);

// Builds the single app of REVERB_APP_* (or the development default when no credentials are
// set) into out.apps, with the target of RINGCAST_WEBHOOK_URL / RINGCAST_WEBHOOK_EVENTS when
// given. Fails with a message naming the variable.
[[nodiscard]] core::status apply_app_environment(const environment& env, server& out);

// The development default app, used when no app is configured (and printed, so public).
inline constexpr std::string_view dev_app_id = "app-id";
inline constexpr std::string_view dev_app_key = "app-key";
inline constexpr std::string_view dev_app_secret = "app-secret";

// Why two port variables: said wherever a port name is at fault.
inline constexpr std::string_view port_names_explained =
    "REVERB_PORT is the public port the app publishes to and browsers connect to (443 behind a TLS "
    "proxy); REVERB_SERVER_PORT (or --port) is the port ringcast listens on.";

// The known REVERB_*/PUSHER_*/RINGCAST_* name nearest to `name` (edit distance).
[[nodiscard]] std::string_view closest_known_name(std::string_view name);
// The REVERB_*, PUSHER_* and RINGCAST_* names in `vars` that ringcast does not know.
[[nodiscard]] std::vector<std::string> unknown_names(const variables& vars);
// Logs a warning for each unknown name, with the closest known one and where it was set.
void warn_unknown_names(const environment& env);
// Warns when REVERB_PORT (where the app publishes) differs from the port ringcast listens on
// and nothing says the server's port on purpose (REVERB_SERVER_PORT, --port): the tutorial's
// set-up without a proxy, where the two must match.
void warn_public_port(const environment& env, bool port_flag, const server& s);

// 127.0.0.0/8, ::1 or localhost.
[[nodiscard]] bool is_loopback(std::string_view host) noexcept;
// Refuses an app with the development default's secret (app-secret, printed in the README) on
// an address others can reach, unless --allow-dev-credentials; the message says where app
// credentials were looked for.
[[nodiscard]] core::status refuse_dev_credentials(const environment& env, const flags& f, const server& s);

} // namespace ringcast::config::detail
