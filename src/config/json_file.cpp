// The JSON config file (--config): server settings and the apps, checked key by key.
#include "detail.h"

#include <simdjson.h>

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

    bool read_app(element value, const std::string& path, app& out, std::string& id_path) {
        bool ok = each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
            if (key == "id" || key == "app_id") {
                if (!id_path.empty()) {
                    return fail(path, "both \"id\" and \"app_id\" given");
                }
                id_path = p;
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
            if (key == "max_event_payload_bytes") {
                return size(v, p, out.max_event_payload_bytes);
            }
            if (key == "max_event_channels") {
                return size(v, p, out.max_event_channels);
            }
            if (key == "max_event_name_length") {
                return size(v, p, out.max_event_name_length);
            }
            if (key == "max_channel_name_length") {
                return size(v, p, out.max_channel_name_length);
            }
            if (key == "max_batch_size") {
                return size(v, p, out.max_batch_size);
            }
            if (key == "max_client_events_per_second") {
                return size(v, p, out.max_client_events_per_second);
            }
            if (key == "max_presence_members") {
                return size(v, p, out.max_presence_members);
            }
            if (key == "max_presence_member_size") {
                return size(v, p, out.max_presence_member_size);
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
                if (v.is_null()) {
                    out.max_connections.reset();
                    return true;
                }
                std::uint64_t n = 0;
                if (v.get_uint64().get(n) != simdjson::SUCCESS || n < 1 || n > max_u32) {
                    return fail(p,
                                "expected null (unlimited) or a number from 1 to " + std::to_string(max_u32));
                }
                out.max_connections = static_cast<std::uint32_t>(n);
                return true;
            }
            if (key == "allowed_origins") {
                return origins(v, p, out.allowed_origins);
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
            return unknown(p);
        });
        if (!ok) {
            return false;
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

std::string read_json_config(const std::string& file, server& out, bool& has_apps) {
    has_apps = false;
    std::string problem;
    std::optional<std::string> text = read_file(file, problem);
    if (!text) {
        return "--config: cannot read " + file + ": " + problem;
    }
    simdjson::padded_string padded(*text);
    simdjson::dom::parser parser;
    element root;
    if (auto error = parser.parse(padded).get(root); error != simdjson::SUCCESS) {
        return file + ": invalid JSON: " + simdjson::error_message(error);
    }
    // Read into a copy so a failed file leaves `out` untouched.
    server settings = out;
    json_reader reader(file);
    if (!reader.read(root, settings, has_apps)) {
        has_apps = false;
        return reader.error();
    }
    out = std::move(settings);
    return {};
}

} // namespace ringcast::config::detail
