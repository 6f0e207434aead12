// The JSON config file (--config): server settings and the apps, checked key by key.
#include "detail.h"

#include <simdjson.h>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace ringcast::config::detail {
namespace {

using simdjson::dom::element;

std::string child(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index(const std::string& parent, std::size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

// soketi's USER_AUTHENTICATION_TIMEOUT default (30 000 ms), used when enable_user_authentication
// turns the feature on without saying how long a connection may stay anonymous.
constexpr std::uint32_t user_authentication_timeout_s = 30;

// What -1 ("no limit" in soketi) means for max_client_events_per_second: the count is compared
// with `>` and 0 would refuse every event, so unlimited is the largest limit, which one
// connection cannot reach in a second.
constexpr std::uint32_t unlimited_client_events = std::numeric_limits<std::uint32_t>::max();

// Walks the DOM, stopping at the first problem with a message that names the file and the key
// path (e.g. "apps[1].key"), since a config error is fixed by someone reading that message alone.
class json_reader {
public:
    explicit json_reader(const std::string& file) : file_(file) {}

    const std::string& error() const { return error_; }

    bool read(element root, server& out, bool& has_apps) {
        if (!root.is_object()) {
            error_ = file_ + ": expected a JSON object at the top level";
            return false;
        }
        return each_field(root, "", [&](std::string_view key, element value, const std::string& path) {
            if (key == "server") {
                return read_server(value, path, out);
            }
            if (key == "apps") {
                has_apps = true;
                return read_apps(value, path, out.apps);
            }
            return unknown(path);
        });
    }

private:
    bool fail(const std::string& path, std::string_view what) {
        error_ = file_ + ": " + path + ": " + std::string(what);
        return false;
    }

    // Unknown keys are errors rather than ignored: they are almost always typos of a real key,
    // and a silently ignored "ping_intervall" is a setting the user believes is in effect.
    bool unknown(const std::string& path) {
        error_ = file_ + ": unknown key " + in_quotes(path);
        return false;
    }

    // Calls field(key, value, path) for each member of the object at `path`; a key given twice
    // is an error because only one of the two values could take effect.
    template <class Handler> bool each_field(element value, const std::string& path, Handler&& field) {
        simdjson::dom::object object;
        if (value.get_object().get(object) != simdjson::SUCCESS) {
            return fail(path, "expected an object");
        }
        std::vector<std::string_view> seen;
        for (simdjson::dom::key_value_pair member : object) {
            std::string member_path = child(path, member.key);
            for (std::string_view earlier : seen) {
                if (earlier == member.key) {
                    error_ = file_ + ": duplicate key " + in_quotes(member_path);
                    return false;
                }
            }
            seen.push_back(member.key);
            if (!field(member.key, member.value, member_path)) {
                return false;
            }
        }
        return true;
    }

    template <class Number>
    bool number(element value, const std::string& path, std::uint64_t min, std::uint64_t max, Number& out) {
        std::uint64_t n = 0;
        // get_uint64 refuses negative numbers and fractions, which are all out of range here.
        if (value.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max) {
            return fail(path, expected_range(min, max));
        }
        out = static_cast<Number>(n);
        return true;
    }

    bool seconds(element value, const std::string& path, std::uint32_t& out) {
        return number(value, path, 1, max_seconds, out);
    }

    bool size(element value, const std::string& path, std::uint32_t& out) {
        return number(value, path, 1, max_u32, out);
    }

    bool string(element value, const std::string& path, bool non_empty, std::string& out) {
        std::string_view text;
        if (value.get_string().get(text) != simdjson::SUCCESS || (non_empty && text.empty())) {
            return fail(path, non_empty ? "expected a non-empty string" : "expected a string");
        }
        out = text;
        return true;
    }

    bool boolean(element value, const std::string& path, bool& out) {
        if (value.get_bool().get(out) != simdjson::SUCCESS) {
            return fail(path, "expected true or false");
        }
        return true;
    }

    bool read_server(element value, const std::string& path, server& out) {
        return each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
            if (key == "host") {
                return string(v, p, true, out.host);
            }
            if (key == "port") {
                return number(v, p, 1, 65535, out.port);
            }
            if (key == "path") {
                std::string raw;
                if (!string(v, p, false, raw)) {
                    return false;
                }
                auto normalised = normalise_path(raw);
                if (!normalised) {
                    return fail(p, "expected a URL path prefix such as \"/ws\"");
                }
                out.path = std::move(*normalised);
                return true;
            }
            if (key == "hostname") {
                return string(v, p, false, out.hostname);
            }
            if (key == "debug") {
                return boolean(v, p, out.debug);
            }
            if (key == "threads") {
                return number(v, p, 0, max_threads, out.threads);
            }
            if (key == "max_header_bytes") {
                // The request line and the headers a browser sends on an upgrade need about 1 KB.
                return number(v, p, 1024, max_u32, out.max_header_bytes);
            }
            if (key == "max_body_bytes") {
                return size(v, p, out.max_body_bytes);
            }
            if (key == "handshake_timeout") {
                return seconds(v, p, out.handshake_timeout_s);
            }
            if (key == "http_idle_timeout") {
                return seconds(v, p, out.http_idle_timeout_s);
            }
            if (key == "max_pending_write_bytes") {
                return size(v, p, out.max_pending_write_bytes);
            }
            return unknown(p);
        });
    }

    // Reverb's app_id is accepted as an alias of id, and numeric ids (common in Laravel's
    // REVERB_APP_ID) become their decimal string, since ids travel as strings in URLs.
    bool app_id(element v, const std::string& p, app& out) {
        std::uint64_t n = 0;
        if (v.get_uint64().get(n) == simdjson::SUCCESS) {
            out.id = std::to_string(n);
            return true;
        }
        std::string_view text;
        if (v.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
            return fail(p, "expected a non-empty string or a non-negative integer");
        }
        out.id = text;
        return true;
    }

    // soketi's per-app limits use -1 for "no limit"; `unlimited` is what that becomes here.
    bool limit(element value, const std::string& path, std::uint64_t min, std::uint32_t unlimited,
               std::uint32_t& out) {
        std::int64_t minus = 0;
        if (value.get_int64().get(minus) == simdjson::SUCCESS && minus == -1) {
            out = unlimited;
            return true;
        }
        std::uint64_t n = 0;
        if (value.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max_u32) {
            return fail(path, expected_range(min, max_u32) + ", or -1 (unlimited)");
        }
        out = static_cast<std::uint32_t>(n);
        return true;
    }

    // soketi's "_in_kb" sizes, fractions allowed (0.5 is 512 bytes). Rounding down keeps soketi's
    // test "size / 1024 > limit" exact: a size passes there exactly when it passes here.
    bool kilobytes(element value, const std::string& path, std::uint32_t& out) {
        double kb = 0;
        constexpr double max_kb = static_cast<double>(max_u32 / 1024);
        if (value.get_double().get(kb) != simdjson::SUCCESS || !(kb >= 0.001 && kb <= max_kb)) {
            return fail(path,
                        "expected a number of kilobytes from 0.001 to " + std::to_string(max_u32 / 1024));
        }
        out = static_cast<std::uint32_t>(kb * 1024);
        return true;
    }

    // Reverb's rate_limiting block, with Reverb's key names.
    bool read_rate_limiting(element value, const std::string& path, app& out) {
        return each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
            if (key == "enabled") {
                return boolean(v, p, out.rate_limiting_enabled);
            }
            if (key == "max_attempts") {
                return size(v, p, out.rate_limit_max_attempts);
            }
            if (key == "decay_seconds") {
                return seconds(v, p, out.rate_limit_decay_s);
            }
            if (key == "terminate_on_limit") {
                return boolean(v, p, out.rate_limit_terminate);
            }
            return unknown(p);
        });
    }

    // One app setting, by its snake_case key and the setting that key sets (see app_aliases).
    bool app_field(std::string_view key, std::string_view setting, element v, const std::string& p,
                   app& out) {
        if (setting == "id") {
            return app_id(v, p, out);
        }
        if (key == "key") {
            return string(v, p, true, out.key);
        }
        if (key == "secret") {
            return string(v, p, true, out.secret);
        }
        if (key == "enabled") {
            return boolean(v, p, out.enabled);
        }
        if (key == "activity_timeout") {
            return seconds(v, p, out.activity_timeout_s);
        }
        if (key == "ping_interval") {
            return seconds(v, p, out.ping_interval_s);
        }
        if (key == "pong_timeout") {
            return seconds(v, p, out.pong_timeout_s);
        }
        if (key == "max_message_size") {
            return size(v, p, out.max_message_size);
        }
        if (setting == "max_event_payload_bytes") {
            return key == "max_event_payload_in_kb" ? kilobytes(v, p, out.max_event_payload_bytes)
                                                    : size(v, p, out.max_event_payload_bytes);
        }
        if (setting == "max_event_channels") {
            return size(v, p, out.max_event_channels);
        }
        if (key == "max_event_name_length") {
            return size(v, p, out.max_event_name_length);
        }
        if (key == "max_channel_name_length") {
            return size(v, p, out.max_channel_name_length);
        }
        if (setting == "max_batch_size") {
            return size(v, p, out.max_batch_size);
        }
        if (key == "max_client_events_per_second") {
            return limit(v, p, 1, unlimited_client_events, out.max_client_events_per_second);
        }
        if (key == "max_backend_events_per_second") {
            return limit(v, p, 0, 0, out.max_backend_events_per_second);
        }
        if (key == "max_read_requests_per_second") {
            return limit(v, p, 0, 0, out.max_read_requests_per_second);
        }
        if (setting == "max_presence_members") {
            return size(v, p, out.max_presence_members);
        }
        if (setting == "max_presence_member_size") {
            return key == "max_presence_member_size_in_kb" ? kilobytes(v, p, out.max_presence_member_size)
                                                           : size(v, p, out.max_presence_member_size);
        }
        if (key == "max_presence_user_id_length") {
            return size(v, p, out.max_presence_user_id_length);
        }
        if (key == "cache_ttl") {
            return seconds(v, p, out.cache_ttl_s);
        }
        if (key == "subscription_count") {
            return boolean(v, p, out.subscription_count);
        }
        if (key == "authorized_connections_timeout") {
            if (v.is_number() && v.get_uint64().value_unsafe() == 0) {
                out.authorized_connections_timeout_s = 0; // 0 turns the feature off
                return true;
            }
            return seconds(v, p, out.authorized_connections_timeout_s);
        }
        if (key == "watchlist_limit") {
            return size(v, p, out.watchlist_limit);
        }
        if (key == "max_connections") {
            std::int64_t minus = 0;
            if (v.is_null() || (v.get_int64().get(minus) == simdjson::SUCCESS && minus == -1)) {
                out.max_connections.reset(); // soketi writes -1 for unlimited
                return true;
            }
            std::uint64_t n = 0;
            if (v.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > max_u32) {
                return fail(p, "expected null or -1 (unlimited) or a number from 1 to " +
                                   std::to_string(max_u32));
            }
            out.max_connections = static_cast<std::uint32_t>(n);
            return true;
        }
        if (key == "allowed_origins") {
            return origins(v, p, out.allowed_origins);
        }
        if (key == "enable_client_messages") {
            // soketi lets a connection send client events on channels it is subscribed to.
            bool on = false;
            if (!boolean(v, p, on)) {
                return false;
            }
            out.accept_client_events_from = on ? client_events_from::members : client_events_from::none;
            return true;
        }
        if (key == "accept_client_events_from") {
            std::string_view text;
            std::optional<client_events_from> from;
            if (v.get_string().get(text) == simdjson::SUCCESS) {
                from = parse_client_events_from(text);
            }
            if (!from) {
                return fail(p, "expected \"all\", \"members\" or \"none\"");
            }
            out.accept_client_events_from = *from;
            return true;
        }
        if (key == "rate_limiting") {
            return read_rate_limiting(v, p, out);
        }
        if (key == "webhooks") {
            // Said plainly: "unknown key" would suggest a typo, but this is a soketi setting we lack.
            return fail(p, "webhooks are not supported by this version of ringcast");
        }
        return unknown(p);
    }

    bool read_app(element value, const std::string& path, app& out, std::string& id_path) {
        // Each setting given so far with its key as written: one setting under two names (ours
        // and soketi's, or snake_case and camelCase) is an error, since only one could win.
        std::vector<std::pair<std::string, std::string_view>> given;
        auto written_as = [&](std::string_view setting) -> std::optional<std::string_view> {
            for (const auto& [s, written] : given) {
                if (s == setting) {
                    return written;
                }
            }
            return std::nullopt;
        };
        std::optional<bool> user_authentication;
        bool ok = each_field(value, path, [&](std::string_view written, element v, const std::string& p) {
            std::string key = snake_case(written);
            std::string_view setting = app_setting(key);
            if (std::optional<std::string_view> earlier = written_as(setting)) {
                return fail(path, "both " + in_quotes(*earlier) + " and " + in_quotes(written) + " given");
            }
            given.emplace_back(setting, written);
            if (setting == "id") {
                id_path = p;
            }
            if (key == "enable_user_authentication") {
                return boolean(v, p, user_authentication.emplace());
            }
            return app_field(key, setting, v, p, out);
        });
        if (!ok) {
            return false;
        }
        if (user_authentication) {
            // soketi's switch sets our timeout unless the timeout is given too; then the two agree
            // or the app is refused, since one of them would be ignored.
            std::string_view switch_key = *written_as("enable_user_authentication");
            std::optional<std::string_view> timeout_key = written_as("authorized_connections_timeout");
            if (!timeout_key) {
                out.authorized_connections_timeout_s =
                    *user_authentication ? user_authentication_timeout_s : 0;
            } else if (*user_authentication != (out.authorized_connections_timeout_s != 0)) {
                return fail(path, in_quotes(switch_key) + ": " + (*user_authentication ? "true" : "false") +
                                      " contradicts " + in_quotes(*timeout_key) + ": " +
                                      std::to_string(out.authorized_connections_timeout_s));
            }
        }
        if (id_path.empty()) {
            return fail(path, "missing \"id\"");
        }
        if (out.key.empty()) {
            return fail(path, "missing \"key\"");
        }
        if (out.secret.empty()) {
            return fail(path, "missing \"secret\"");
        }
        return true;
    }

    bool origins(element value, const std::string& path, std::vector<std::string>& out) {
        simdjson::dom::array list;
        if (value.get_array().get(list) != simdjson::SUCCESS) {
            return fail(path, "expected an array of strings");
        }
        // An empty list is allowed: it admits no browser origin, which can be deliberate.
        out.clear();
        std::size_t i = 0;
        for (element origin : list) {
            if (!string(origin, index(path, i++), true, out.emplace_back())) {
                return false;
            }
        }
        return true;
    }

    bool read_apps(element value, const std::string& path, std::vector<app>& out) {
        simdjson::dom::array list;
        if (value.get_array().get(list) != simdjson::SUCCESS) {
            return fail(path, "expected an array of apps");
        }
        if (list.size() == 0) {
            return fail(path, "expected at least one app");
        }
        out.clear();
        std::vector<std::string> id_paths;
        for (element entry : list) {
            std::string entry_path = index(path, out.size());
            if (!read_app(entry, entry_path, out.emplace_back(), id_paths.emplace_back())) {
                return false;
            }
        }
        // Clients find their app by key and the HTTP API by id, so either repeated would make
        // one of the two apps unreachable.
        for (std::size_t i = 0; i < out.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (out[i].id == out[j].id) {
                    return fail(id_paths[i],
                                "app id " + in_quotes(out[i].id) + " is also used by " + index(path, j));
                }
                if (out[i].key == out[j].key) {
                    return fail(index(path, i) + ".key",
                                "app key " + in_quotes(out[i].key) + " is also used by " + index(path, j));
                }
            }
        }
        return true;
    }

    const std::string& file_;
    std::string error_;
};

} // namespace

core::status read_json_config(const std::string& file, server& out, bool& has_apps) {
    has_apps = false;
    core::result<std::string> text = read_file(file);
    if (!text) {
        return core::failure("--config: cannot read " + file + ": " + text.error().message());
    }
    simdjson::padded_string padded(*text);
    simdjson::dom::parser parser;
    element root;
    if (auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
        return core::failure(file + ": invalid JSON: " + simdjson::error_message(error));
    }
    // Read into a copy so a failed file leaves `out` untouched.
    server settings = out;
    json_reader reader(file);
    if (!reader.read(root, settings, has_apps)) {
        has_apps = false;
        return core::failure(reader.error());
    }
    out = std::move(settings);
    return core::ok();
}

} // namespace ringcast::config::detail
