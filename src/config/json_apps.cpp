// The JSON config file's "apps": each app's settings under our names, Reverb's and soketi's
// (camelCase or snake_case, see app_keys.cpp), and the checks across apps.
#include "json_reader.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace ringcast::config::detail::json {
namespace {

// soketi's USER_AUTHENTICATION_TIMEOUT default (30 000 ms), used when enable_user_authentication
// turns the feature on without saying how long a connection may stay anonymous.
constexpr std::uint32_t user_authentication_timeout_s = 30;

// What -1 ("no limit" in soketi) means for max_client_events_per_second: the count is compared
// with `>` and 0 would refuse every event, so unlimited is the largest limit, which one
// connection cannot reach in a second.
constexpr std::uint32_t unlimited_client_events = std::numeric_limits<std::uint32_t>::max();

// The app settings that are a plain number of seconds or a plain size, by setting name (after
// app_setting(), so soketi's aliases land here too).
enum class quantity { seconds, size };
struct number_setting {
    std::string_view setting;
    quantity kind;
    std::uint32_t app::*field;
};

// One setting per line reads as the table it is.
// clang-format off
constexpr number_setting number_settings[] = {
    {"activity_timeout", quantity::seconds, &app::activity_timeout_s},
    {"ping_interval", quantity::seconds, &app::ping_interval_s},
    {"pong_timeout", quantity::seconds, &app::pong_timeout_s},
    {"cache_ttl", quantity::seconds, &app::cache_ttl_s},
    {"max_message_size", quantity::size, &app::max_message_size},
    {"max_event_channels", quantity::size, &app::max_event_channels},
    {"max_event_name_length", quantity::size, &app::max_event_name_length},
    {"max_channel_name_length", quantity::size, &app::max_channel_name_length},
    {"max_batch_size", quantity::size, &app::max_batch_size},
    {"max_presence_members", quantity::size, &app::max_presence_members},
    {"max_presence_user_id_length", quantity::size, &app::max_presence_user_id_length},
    {"watchlist_limit", quantity::size, &app::watchlist_limit},
    {"max_subscriptions_per_connection", quantity::size, &app::max_subscriptions_per_connection},
};
// clang-format on

const number_setting* find_number_setting(std::string_view setting) {
    for (const number_setting& n : number_settings) {
        if (n.setting == setting) {
            return &n;
        }
    }
    return nullptr;
}

// Reverb's app_id is accepted as an alias of id, and numeric ids (common in Laravel's
// REVERB_APP_ID) become their decimal string, since ids travel as strings in URLs.
core::status app_id(element v, const std::string& p, app& out) {
    std::uint64_t n = 0;
    if (v.get_uint64().get(n) == simdjson::SUCCESS) {
        out.id = std::to_string(n);
        return core::ok();
    }
    std::string_view text;
    if (v.get_string().get(text) != simdjson::SUCCESS || text.empty()) {
        return fail(p, "expected a non-empty string or a non-negative integer");
    }
    out.id = text;
    return core::ok();
}

// soketi's per-app limits use -1 for "no limit"; `unlimited` is what that becomes here.
core::status limit(element value, const std::string& path, std::uint64_t min, std::uint32_t unlimited,
                   std::uint32_t& out) {
    std::int64_t minus = 0;
    if (value.get_int64().get(minus) == simdjson::SUCCESS && minus == -1) {
        out = unlimited;
        return core::ok();
    }
    std::uint64_t n = 0;
    if (value.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max_u32) {
        return fail(path, expected_range(min, max_u32) + ", or -1 (unlimited)");
    }
    out = static_cast<std::uint32_t>(n);
    return core::ok();
}

// soketi's "_in_kb" sizes, fractions allowed (0.5 is 512 bytes). Rounding down keeps soketi's
// test "size / 1024 > limit" exact: a size passes there exactly when it passes here.
core::status kilobytes(element value, const std::string& path, std::uint32_t& out) {
    double kb = 0;
    constexpr double max_kb = static_cast<double>(max_u32 / 1024);
    if (value.get_double().get(kb) != simdjson::SUCCESS || !(kb >= 0.001 && kb <= max_kb)) {
        return fail(path, "expected a number of kilobytes from 0.001 to " + std::to_string(max_u32 / 1024));
    }
    out = static_cast<std::uint32_t>(kb * 1024);
    return core::ok();
}

// null or -1 (soketi's spelling) for unlimited, else a count.
core::status max_connections(element v, const std::string& p, std::optional<std::uint32_t>& out) {
    std::int64_t minus = 0;
    if (v.is_null() || (v.get_int64().get(minus) == simdjson::SUCCESS && minus == -1)) {
        out.reset();
        return core::ok();
    }
    std::uint64_t n = 0;
    if (v.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > max_u32) {
        return fail(p, "expected null or -1 (unlimited) or a number from 1 to " + std::to_string(max_u32));
    }
    out = static_cast<std::uint32_t>(n);
    return core::ok();
}

core::status authorized_connections_timeout(element v, const std::string& p, std::uint32_t& out) {
    if (v.is_number() && v.get_uint64().value_unsafe() == 0) {
        out = 0; // 0 turns the feature off
        return core::ok();
    }
    return seconds(v, p, out);
}

core::status origins(element value, const std::string& path, std::vector<std::string>& out) {
    simdjson::dom::array list;
    if (value.get_array().get(list) != simdjson::SUCCESS) {
        return fail(path, "expected an array of strings");
    }
    // An empty list is allowed: it admits no browser origin, which can be deliberate.
    out.clear();
    std::size_t i = 0;
    for (element origin : list) {
        if (core::status s = string(origin, index(path, i++), true, out.emplace_back()); !s) {
            return s;
        }
    }
    return core::ok();
}

// Reverb's accept_client_events_from, or soketi's enable_client_messages switch (a connection
// may send client events on channels it is subscribed to).
core::status client_events(std::string_view key, element v, const std::string& p, client_events_from& out) {
    if (key == "enable_client_messages") {
        bool on = false;
        if (core::status s = boolean(v, p, on); !s) {
            return s;
        }
        out = on ? client_events_from::members : client_events_from::none;
        return core::ok();
    }
    std::string_view text;
    std::optional<client_events_from> from;
    if (v.get_string().get(text) == simdjson::SUCCESS) {
        from = parse_client_events_from(text);
    }
    if (!from) {
        return fail(p, "expected \"all\", \"members\" or \"none\"");
    }
    out = *from;
    return core::ok();
}

// Reverb's rate_limiting block, with Reverb's key names.
core::status read_rate_limiting(element value, const std::string& path, app& out) {
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

// One app setting, by its snake_case key and the setting that key sets (see app_setting()).
core::status app_field(std::string_view key, std::string_view setting, element v, const std::string& p,
                       app& out) {
    if (const number_setting* n = find_number_setting(setting)) {
        return n->kind == quantity::seconds ? seconds(v, p, out.*(n->field)) : size(v, p, out.*(n->field));
    }
    if (setting == "id") {
        return app_id(v, p, out);
    }
    if (key == "key" || key == "secret") {
        return string(v, p, true, key == "key" ? out.key : out.secret);
    }
    if (key == "enabled" || key == "subscription_count") {
        return boolean(v, p, key == "enabled" ? out.enabled : out.subscription_count);
    }
    if (setting == "max_event_payload_bytes") {
        return key == "max_event_payload_in_kb" ? kilobytes(v, p, out.max_event_payload_bytes)
                                                : size(v, p, out.max_event_payload_bytes);
    }
    if (setting == "max_presence_member_size") {
        return key == "max_presence_member_size_in_kb" ? kilobytes(v, p, out.max_presence_member_size)
                                                       : size(v, p, out.max_presence_member_size);
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
    if (key == "authorized_connections_timeout") {
        return authorized_connections_timeout(v, p, out.authorized_connections_timeout_s);
    }
    if (key == "max_connections") {
        return max_connections(v, p, out.max_connections);
    }
    if (key == "allowed_origins") {
        return origins(v, p, out.allowed_origins);
    }
    if (setting == "accept_client_events_from") {
        return client_events(key, v, p, out.accept_client_events_from);
    }
    if (key == "rate_limiting") {
        return read_rate_limiting(v, p, out);
    }
    if (key == "webhooks") {
        return read_webhooks(v, p, out.webhooks);
    }
    return unknown(p);
}

// Each setting given so far with its key as written: one setting under two names (ours and
// soketi's, or snake_case and camelCase) is an error, since only one could win.
class given_settings {
public:
    std::optional<std::string_view> written_as(std::string_view setting) const {
        for (const auto& [s, written] : given_) {
            if (s == setting) {
                return written;
            }
        }
        return std::nullopt;
    }

    core::status add(std::string_view setting, std::string_view written, const std::string& app_path) {
        if (std::optional<std::string_view> earlier = written_as(setting)) {
            return fail(app_path, "both " + in_quotes(*earlier) + " and " + in_quotes(written) + " given");
        }
        given_.emplace_back(setting, written);
        return core::ok();
    }

private:
    std::vector<std::pair<std::string, std::string_view>> given_;
};

// soketi's enable_user_authentication sets our timeout unless the timeout is given too; then the
// two agree or the app is refused, since one of them would be ignored.
core::status apply_user_authentication(bool on, const given_settings& given, const std::string& path,
                                       app& out) {
    std::string_view switch_key = *given.written_as("enable_user_authentication");
    std::optional<std::string_view> timeout_key = given.written_as("authorized_connections_timeout");
    if (!timeout_key) {
        out.authorized_connections_timeout_s = on ? user_authentication_timeout_s : 0;
    } else if (on != (out.authorized_connections_timeout_s != 0)) {
        return fail(path, in_quotes(switch_key) + ": " + (on ? "true" : "false") + " contradicts " +
                              in_quotes(*timeout_key) + ": " +
                              std::to_string(out.authorized_connections_timeout_s));
    }
    return core::ok();
}

core::status read_app(element value, const std::string& path, app& out, std::string& id_path) {
    given_settings given;
    std::optional<bool> user_authentication;
    core::status read =
        each_field(value, path, [&](std::string_view written, element v, const std::string& p) {
            std::string key = snake_case(written);
            std::string_view setting = app_setting(key);
            if (core::status s = given.add(setting, written, path); !s) {
                return s;
            }
            if (setting == "id") {
                id_path = p;
            }
            if (key == "enable_user_authentication") {
                return boolean(v, p, user_authentication.emplace());
            }
            return app_field(key, setting, v, p, out);
        });
    if (!read) {
        return read;
    }
    if (user_authentication) {
        if (core::status s = apply_user_authentication(*user_authentication, given, path, out); !s) {
            return s;
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
    return core::ok();
}

// Clients find their app by key and the HTTP API by id, so either repeated would make one of the
// two apps unreachable.
core::status check_unique(const std::vector<app>& apps, const std::vector<std::string>& id_paths,
                          const std::string& path) {
    for (std::size_t i = 0; i < apps.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (apps[i].id == apps[j].id) {
                return fail(id_paths[i],
                            "app id " + in_quotes(apps[i].id) + " is also used by " + index(path, j));
            }
            if (apps[i].key == apps[j].key) {
                return fail(index(path, i) + ".key",
                            "app key " + in_quotes(apps[i].key) + " is also used by " + index(path, j));
            }
        }
    }
    return core::ok();
}

} // namespace

core::status read_apps(element value, const std::string& path, std::vector<app>& out) {
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
        if (core::status s = read_app(entry, entry_path, out.emplace_back(), id_paths.emplace_back()); !s) {
            return s;
        }
    }
    return check_unique(out, id_paths, path);
}

} // namespace ringcast::config::detail::json
