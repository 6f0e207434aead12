// REVERB_* variables from the process environment and the .env file, read as Reverb's
// config/reverb.php reads them through Laravel's env().
#include "detail.h"

#include "ringcast/core/log.h"

#include <tuple>
#include <utility>

namespace ringcast::config::detail {
namespace {

struct found {
    std::string_view value;
    bool from_dotenv;
};

// Laravel's env() turns "null"/"(null)" into null and "empty"/"(empty)" into "", and Reverb's
// config falls back to its default for both; an empty value means "unset" here as well.
bool means_unset(std::string_view value) {
    return value.empty() || equals_lowercase(value, "null") || equals_lowercase(value, "(null)") ||
           equals_lowercase(value, "empty") || equals_lowercase(value, "(empty)");
}

std::optional<found> lookup(const environment& env, std::string_view name) {
    // A variable present in the process environment hides the file's, even when it is empty,
    // exactly as phpdotenv's immutable loading (what Laravel uses) leaves it in place.
    if (auto it = env.process.find(name); it != env.process.end()) {
        return means_unset(it->second) ? std::nullopt : std::optional<found>(found{it->second, false});
    }
    if (auto it = env.dotenv.find(name); it != env.dotenv.end()) {
        return means_unset(it->second) ? std::nullopt : std::optional<found>(found{it->second, true});
    }
    return std::nullopt;
}

// "REVERB_SERVER_PORT: ..." or ".env: REVERB_SERVER_PORT: ...", so the user knows which to edit.
core::status bad_value(const environment& env, std::string_view name, const found& f,
                       std::string_view wanted) {
    std::string where = f.from_dotenv ? env.dotenv_file + ": " : std::string{};
    return core::failure(where + std::string(name) + ": " + std::string(wanted) + ", got " +
                         in_quotes(f.value));
}

template <class Number>
core::status number(const environment& env, std::string_view name, std::uint64_t min, std::uint64_t max,
                    Number& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::optional<std::uint64_t> n = parse_number(f->value, min, max);
    if (!n) {
        return bad_value(env, name, *f, expected_range(min, max));
    }
    out = static_cast<Number>(*n);
    return core::ok();
}

void text(const environment& env, std::string_view name, std::string& out) {
    if (std::optional<found> f = lookup(env, name)) {
        out = f->value;
    }
}

core::status url_path(const environment& env, std::string_view name, std::string& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::optional<std::string> path = normalise_path(f->value);
    if (!path) {
        return bad_value(env, name, *f, "expected a URL path prefix such as \"/ws\"");
    }
    out = std::move(*path);
    return core::ok();
}

core::status client_events(const environment& env, std::string_view name, client_events_from& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::optional<client_events_from> from = parse_client_events_from(f->value);
    if (!from) {
        return bad_value(env, name, *f, "expected \"all\", \"members\" or \"none\"");
    }
    out = *from;
    return core::ok();
}

// Laravel's env() turns "true"/"(true)" and "false"/"(false)" into booleans; 1/0 and yes/no are
// what people also write in a .env, and PHP would read "0" as false anyway. Anything else is more
// likely a typo than a deliberate value, so it is an error rather than PHP's "non-empty is true".
core::status boolean(const environment& env, std::string_view name, bool& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    for (std::string_view yes : {"true", "(true)", "1", "yes"}) {
        if (equals_lowercase(f->value, yes)) {
            out = true;
            return core::ok();
        }
    }
    for (std::string_view no : {"false", "(false)", "0", "no"}) {
        if (equals_lowercase(f->value, no)) {
            out = false;
            return core::ok();
        }
    }
    return bad_value(env, name, *f, "expected true or false (or 1, 0, yes, no)");
}

core::status ca_file(const environment& env, std::string_view name, std::string& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::string file(f->value);
    if (core::status s = check_ca_file(file); !s) {
        std::string where = f->from_dotenv ? env.dotenv_file + ": " : std::string{};
        return core::failure(where + std::string(name) + ": " + s.message());
    }
    out = std::move(file);
    return core::ok();
}

// RINGCAST_WEBHOOK_URL and RINGCAST_WEBHOOK_EVENTS: one webhook target for the single app.
core::status webhook(const environment& env, app& out) {
    std::optional<found> url = lookup(env, "RINGCAST_WEBHOOK_URL");
    std::optional<found> events = lookup(env, "RINGCAST_WEBHOOK_EVENTS");
    if (!url) {
        if (events) {
            // Event types with nowhere to send them are a forgotten URL, not a choice.
            return bad_value(env, "RINGCAST_WEBHOOK_EVENTS", *events, "needs RINGCAST_WEBHOOK_URL too");
        }
        return core::ok();
    }
    webhook_target target;
    if (core::status s = parse_webhook_url(url->value, target); !s) {
        return bad_value(env, "RINGCAST_WEBHOOK_URL", *url, s.message());
    }
    target.event_types = default_webhook_events();
    if (events) {
        core::result<std::uint32_t> bits = parse_webhook_kinds(events->value);
        if (!bits) {
            return bad_value(env, "RINGCAST_WEBHOOK_EVENTS", *events, bits.error().message());
        }
        target.event_types = *bits;
    }
    out.webhooks = {std::move(target)};
    return core::ok();
}

// REDIS_URL: the whole connection. The message echoes the URL without its password.
core::status redis_url(const environment& env, const found& f, redis_settings& out) {
    if (core::status s = parse_redis_url(f.value, out); !s) {
        std::string shown = redact_redis_url(f.value);
        return bad_value(env, "REDIS_URL", found{shown, f.from_dotenv}, s.message());
    }
    return core::ok();
}

core::status redis_host(const environment& env, std::string_view name, std::string& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    core::result<std::string> host = check_host(f->value);
    if (!host) {
        return bad_value(env, name, *f, host.error().message());
    }
    out = std::move(*host);
    return core::ok();
}

// Laravel's `scheme` of a Redis connection (phpredis and Predis): tcp or tls. Predis's unix
// (a socket path in REDIS_HOST) is refused: ringcast connects over TCP only.
core::status redis_scheme(const environment& env, std::string_view name, bool& tls) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    if (!equals_lowercase(f->value, "tcp") && !equals_lowercase(f->value, "tls")) {
        return bad_value(env, name, *f, "expected tcp or tls");
    }
    tls = equals_lowercase(f->value, "tls");
    return core::ok();
}

core::status redis_prefix(const environment& env, std::string_view name, std::string& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    if (core::status s = check_redis_prefix(f->value); !s) {
        return bad_value(env, name, *f, s.message());
    }
    out = f->value;
    return core::ok();
}

// REDIS_HOST, REDIS_PORT, ... each over the same field of the JSON file (or the default).
// REDIS_TIMEOUT is not read: Reverb passes it to its client as a connect timeout, and how
// ringcast's client times out and reconnects is its own affair, not a Laravel setting.
core::status redis_parts(const environment& env, redis_settings& out) {
    std::optional<found> username = lookup(env, "REDIS_USERNAME");
    if (username && !lookup(env, "REDIS_PASSWORD")) {
        // Redis authenticates a user only with a password.
        return bad_value(env, "REDIS_USERNAME", *username, "needs REDIS_PASSWORD too");
    }
    text(env, "REDIS_USERNAME", out.username);
    // Read as is and never echoed: any byte string is a valid password.
    text(env, "REDIS_PASSWORD", out.password);
    const core::status problems[] = {
        redis_scheme(env, "REDIS_SCHEME", out.tls),
        redis_host(env, "REDIS_HOST", out.host),
        number(env, "REDIS_PORT", 1, 65535, out.port),
        number(env, "REDIS_DB", 0, max_redis_db, out.db),
    };
    for (const core::status& problem : problems) {
        if (!problem) {
            return problem;
        }
    }
    return core::ok();
}

// Reverb's scaling variables. The connection ones are read only when scaling is on (here, in
// the JSON file, or by --redis, whose URL then replaces them anyway): a Laravel app sets
// REDIS_HOST, REDIS_URL ... for its cache and queues, and neither enables scaling nor should a
// value ringcast cannot use (a socket path in REDIS_HOST, say) stop a single node from starting.
core::status redis(const environment& env, bool redis_flag, redis_settings& out) {
    if (core::status s = boolean(env, "REVERB_SCALING_ENABLED", out.enabled); !s) {
        return s;
    }
    if (core::status s = redis_prefix(env, "REVERB_SCALING_CHANNEL", out.prefix); !s) {
        return s;
    }
    if (!out.enabled || redis_flag) {
        return core::ok();
    }
    // REDIS_URL is the whole connection and the parts go unread, so a URL copied from a Redis
    // provider is not mixed with a REDIS_PASSWORD left over from another server. (Laravel's
    // own URL parser would merge the two; a half-merged connection is harder to debug.)
    if (std::optional<found> url = lookup(env, "REDIS_URL")) {
        return redis_url(env, *url, out);
    }
    return redis_parts(env, out);
}

// "FILE: " when the value came from the .env file, else "".
std::string where(const environment& env, const found& f) {
    return f.from_dotenv ? env.dotenv_file + ": " : std::string{};
}

struct named {
    std::string_view name;
    found value;
};

// Our RINGCAST_TLS_* name wins over soketi's SSL_* one, wherever each is set.
std::optional<named> tls_variable(const environment& env, std::string_view ours, std::string_view soketis) {
    for (std::string_view name : {ours, soketis}) {
        if (std::optional<found> f = lookup(env, name)) {
            return named{name, *f};
        }
    }
    return std::nullopt;
}

core::status needs(const environment& env, const named& given, std::string_view what) {
    return core::failure(where(env, given.value) + std::string(given.name) + ": needs " + std::string(what));
}

// The one certificate the environment can give, which replaces the JSON file's certificates.
// The passphrase is never echoed.
core::status tls_certificate_variables(const environment& env, tls_settings& out) {
    std::optional<named> cert = tls_variable(env, "RINGCAST_TLS_CERT", "SSL_CERT");
    std::optional<named> key = tls_variable(env, "RINGCAST_TLS_KEY", "SSL_KEY");
    std::optional<named> passphrase = tls_variable(env, "RINGCAST_TLS_PASSPHRASE", "SSL_PASSPHRASE");
    if (cert && !key) {
        return needs(env, *cert, "a key too: set RINGCAST_TLS_KEY or SSL_KEY");
    }
    if (key && !cert) {
        return needs(env, *key, "a certificate too: set RINGCAST_TLS_CERT or SSL_CERT");
    }
    if (passphrase && !cert) {
        return needs(env, *passphrase,
                     "a certificate and its key too: set RINGCAST_TLS_CERT and "
                     "RINGCAST_TLS_KEY (or SSL_CERT and SSL_KEY)");
    }
    if (cert) {
        std::string secret = passphrase ? std::string(passphrase->value.value) : std::string{};
        out.certificates = {
            {std::string(cert->value.value), std::string(key->value.value), std::move(secret)}};
    }
    return core::ok();
}

core::status tls_ktls(const environment& env, std::string_view name, bool& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::optional<bool> ktls = parse_ktls(f->value);
    if (!ktls) {
        return bad_value(env, name, *f, ktls_wanted);
    }
    out = *ktls;
    return core::ok();
}

core::status tls_version(const environment& env, std::string_view name, std::string& out) {
    std::optional<found> f = lookup(env, name);
    if (!f) {
        return core::ok();
    }
    std::optional<std::string> version = parse_tls_version(f->value);
    if (!version) {
        return bad_value(env, name, *f, tls_version_wanted);
    }
    out = std::move(*version);
    return core::ok();
}

// The variables check_tls may name, the one in effect last.
void record_tls_names(const environment& env, tls_sources& names) {
    for (std::string_view name :
         {"SSL_CA", "RINGCAST_TLS_CLIENT_CA", "RINGCAST_TLS_MIN_VERSION", "RINGCAST_TLS_CIPHERS",
          "RINGCAST_TLS_HOST", "RINGCAST_TLS_MAX_HANDSHAKES", "RINGCAST_TLS_KTLS"}) {
        if (std::optional<found> f = lookup(env, name)) {
            names.setting = where(env, *f) + std::string(name);
        }
    }
    if (std::optional<found> f = lookup(env, "RINGCAST_TLS_PORT")) {
        names.setting = names.port = where(env, *f) + "RINGCAST_TLS_PORT";
    }
}

} // namespace

core::status apply_tls_environment(const environment& env, tls_settings& out, tls_sources& names) {
    if (std::optional<named> ca = tls_variable(env, "RINGCAST_TLS_CLIENT_CA", "SSL_CA")) {
        out.client_ca_file = ca->value.value;
    }
    text(env, "RINGCAST_TLS_CIPHERS", out.ciphers);
    text(env, "RINGCAST_TLS_HOST", out.host);
    const core::status problems[] = {
        tls_certificate_variables(env, out),
        tls_version(env, "RINGCAST_TLS_MIN_VERSION", out.min_version),
        number(env, "RINGCAST_TLS_PORT", 1, 65535, out.port),
        number(env, "RINGCAST_TLS_MAX_HANDSHAKES", 1, max_u32, out.max_handshakes),
        tls_ktls(env, "RINGCAST_TLS_KTLS", out.ktls),
    };
    for (const core::status& problem : problems) {
        if (!problem) {
            return problem;
        }
    }
    record_tls_names(env, names);
    return core::ok();
}

std::string searched(const environment& env) {
    return env.dotenv_file.empty() ? "the process environment (no --env file given)"
                                   : env.dotenv_file + " and the process environment";
}

void warn_public_port(const environment& env, bool port_flag, const server& s) {
    std::optional<found> public_port = lookup(env, "REVERB_PORT");
    if (!public_port || port_flag || lookup(env, "REVERB_SERVER_PORT")) {
        return;
    }
    std::optional<std::uint64_t> n = parse_number(public_port->value, 1, 65535);
    // 443 and 80 are a proxy's ports: the usual production set-up, nothing to say.
    if (!n || *n == s.port || *n == 443 || *n == 80) {
        return;
    }
    std::string where = public_port->from_dotenv ? env.dotenv_file + ": " : std::string("environment: ");
    RC_LOG_WARN("%sREVERB_PORT=%llu but ringcast listens on %u. %s Unless a proxy forwards %llu to %u, set "
                "REVERB_SERVER_PORT=%llu.",
                where.c_str(), static_cast<unsigned long long>(*n), s.port,
                std::string(port_names_explained).c_str(), static_cast<unsigned long long>(*n), s.port,
                static_cast<unsigned long long>(*n));
}

bool names_a_webhook(const environment& env) {
    return lookup(env, "RINGCAST_WEBHOOK_URL") || lookup(env, "RINGCAST_WEBHOOK_EVENTS");
}

namespace {
// RINGCAST_METRICS_PORT/HOST, or soketi's METRICS_ENABLED (its port 9601 unless METRICS_SERVER_PORT).
core::status metrics(const environment& env, metrics_settings& out) {
    bool soketi = false;
    if (core::status s = boolean(env, "METRICS_ENABLED", soketi); !s) {
        return s;
    }
    if (soketi) {
        out.port = metrics_settings::soketi_port;
        if (core::status s = number(env, "METRICS_SERVER_PORT", 1, 65535, out.port); !s) {
            return s;
        }
    }
    text(env, "RINGCAST_METRICS_HOST", out.host);
    return number(env, "RINGCAST_METRICS_PORT", 1, 65535, out.port);
}

// RINGCAST_CONSOLE (a path), RINGCAST_CONSOLE_TOKEN.
core::status console(const environment& env, console_settings& out) {
    if (core::status s = url_path(env, "RINGCAST_CONSOLE", out.path); !s) {
        return s;
    }
    if (std::optional<found> f = lookup(env, "RINGCAST_CONSOLE_TOKEN")) {
        if (f->value.size() < min_console_token) {
            return bad_value(env, "RINGCAST_CONSOLE_TOKEN", *f,
                             "expected a token of " + std::to_string(min_console_token) +
                                 " characters or more");
        }
        out.token = f->value;
    }
    return core::ok();
}

// RINGCAST_LOG_LEVEL, RINGCAST_LOG_FORMAT.
core::status log_settings(const environment& env, server& out) {
    using parser = std::optional<std::string> (*)(std::string_view);
    const std::tuple<std::string_view, parser, std::string_view, std::string*> settings[] = {
        {"RINGCAST_LOG_LEVEL", parse_log_level, log_level_wanted, &out.log_level},
        {"RINGCAST_LOG_FORMAT", parse_log_format, log_format_wanted, &out.log_format},
    };
    for (const auto& [name, parse, wanted, field] : settings) {
        if (std::optional<found> f = lookup(env, name)) {
            std::optional<std::string> value = parse(f->value);
            if (!value) {
                return bad_value(env, name, *f, "expected " + std::string(wanted));
            }
            *field = std::move(*value);
        }
    }
    return core::ok();
}
} // namespace

core::status apply_server_environment(const environment& env, bool redis_flag, server& out) {
    // REVERB_PORT and REVERB_SCHEME are deliberately not read: in Reverb they describe the address
    // clients use (often a proxy in front), not the one the server binds.
    text(env, "REVERB_SERVER_HOST", out.host);
    text(env, "REVERB_HOST", out.hostname);
    const core::status problems[] = {
        number(env, "REVERB_SERVER_PORT", 1, 65535, out.port),
        url_path(env, "REVERB_SERVER_PATH", out.path),
        number(env, "REVERB_MAX_REQUEST_SIZE", 1, max_u32, out.max_body_bytes),
        number(env, "RINGCAST_WEBHOOK_BATCH_MS", 0, max_milliseconds, out.webhooks.batch_window_ms),
        number(env, "RINGCAST_WEBHOOK_DEBOUNCE_MS", 0, max_milliseconds, out.webhooks.debounce_ms),
        number(env, "RINGCAST_WEBHOOK_RETRY_FOR_MS", 0, max_milliseconds, out.webhooks.retry_for_ms),
        ca_file(env, "RINGCAST_WEBHOOK_CA_FILE", out.webhooks.ca_file),
        redis(env, redis_flag, out.redis),
        metrics(env, out.metrics),
        console(env, out.console),
        log_settings(env, out),
    };
    for (const core::status& problem : problems) {
        if (!problem) {
            return problem;
        }
    }
    return core::ok();
}

bool names_an_app(const environment& env) {
    return lookup(env, "REVERB_APP_ID") || lookup(env, "REVERB_APP_KEY") || lookup(env, "REVERB_APP_SECRET");
}

core::status apply_app_environment(const environment& env, server& out) {
    app a;
    if (names_an_app(env)) {
        // A partial set is an error, not a reason to fall back to the development default: the
        // user clearly meant to configure an app and would otherwise run with well-known secrets.
        for (auto [name, field] : {std::pair{"REVERB_APP_ID", &a.id}, std::pair{"REVERB_APP_KEY", &a.key},
                                   std::pair{"REVERB_APP_SECRET", &a.secret}}) {
            std::optional<found> f = lookup(env, name);
            if (!f) {
                return core::failure(
                    std::string(name) + ": missing from " + searched(env) +
                    "; REVERB_APP_ID, REVERB_APP_KEY and REVERB_APP_SECRET must be set together");
            }
            *field = f->value;
        }
        out.apps_source = "environment";
    } else {
        a.id = dev_app_id;
        a.key = dev_app_key;
        a.secret = dev_app_secret;
        out.apps_source = "built-in development default";
    }
    // The options apply to the development default too, so they can be tried without credentials.
    std::uint32_t limit = 0;
    const core::status problems[] = {
        number(env, "REVERB_APP_PING_INTERVAL", 1, max_seconds, a.ping_interval_s),
        number(env, "REVERB_APP_ACTIVITY_TIMEOUT", 1, max_seconds, a.activity_timeout_s),
        number(env, "REVERB_APP_MAX_CONNECTIONS", 1, max_u32, limit),
        number(env, "REVERB_APP_MAX_MESSAGE_SIZE", 1, max_u32, a.max_message_size),
        client_events(env, "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM", a.accept_client_events_from),
        boolean(env, "REVERB_APP_RATE_LIMITING_ENABLED", a.rate_limiting_enabled),
        number(env, "REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS", 1, max_u32, a.rate_limit_max_attempts),
        number(env, "REVERB_APP_RATE_LIMIT_DECAY_SECONDS", 1, max_seconds, a.rate_limit_decay_s),
        boolean(env, "REVERB_APP_RATE_LIMIT_TERMINATE", a.rate_limit_terminate),
        webhook(env, a),
    };
    for (const core::status& problem : problems) {
        if (!problem) {
            return problem;
        }
    }
    if (limit != 0) {
        a.max_connections = limit;
    }
    out.apps = {std::move(a)};
    return core::ok();
}

} // namespace ringcast::config::detail
