// The JSON config file (--config): the top level, the "server" settings and the value readers
// every key is checked with. The apps are read in json_apps.cpp.
#include "json_reader.h"

#include <utility>

namespace ringcast::config::detail {
namespace json {

std::string child(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index(const std::string& parent, std::size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

core::status fail(const std::string& path, std::string_view what) {
    return core::failure(path + ": " + std::string(what));
}

core::status unknown(const std::string& path) {
    return core::failure("unknown key " + in_quotes(path));
}

core::status each_field(element value, const std::string& path, const field_handler& field) {
    simdjson::dom::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
        return fail(path, "expected an object");
    }
    std::vector<std::string_view> seen;
    for (simdjson::dom::key_value_pair member : object) {
        std::string member_path = child(path, member.key);
        for (std::string_view earlier : seen) {
            if (earlier == member.key) {
                return core::failure("duplicate key " + in_quotes(member_path));
            }
        }
        seen.push_back(member.key);
        if (core::status s = field(member.key, member.value, member_path); !s) {
            return s;
        }
    }
    return core::ok();
}

core::status seconds(element value, const std::string& path, std::uint32_t& out) {
    return number(value, path, 1, max_seconds, out);
}

core::status size(element value, const std::string& path, std::uint32_t& out) {
    return number(value, path, 1, max_u32, out);
}

core::status string(element value, const std::string& path, bool non_empty, std::string& out) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS || (non_empty && text.empty())) {
        return fail(path, non_empty ? "expected a non-empty string" : "expected a string");
    }
    out = text;
    return core::ok();
}

core::status boolean(element value, const std::string& path, bool& out) {
    if (value.get_bool().get(out) != simdjson::SUCCESS) {
        return fail(path, "expected true or false");
    }
    return core::ok();
}

} // namespace json

namespace {

using json::element;

core::status url_path(element value, const std::string& path, std::string& out) {
    std::string raw;
    if (core::status s = json::string(value, path, false, raw); !s) {
        return s;
    }
    std::optional<std::string> normalised = normalise_path(raw);
    if (!normalised) {
        return json::fail(path, "expected a URL path prefix such as \"/ws\"");
    }
    out = std::move(*normalised);
    return core::ok();
}

// "server.log_level", "log_format", "debug_app", "debug_channel".
core::status read_log_setting(std::string_view key, element value, const std::string& path, server& out) {
    if (key == "debug_app" || key == "debug_channel") {
        return json::string(value, path, false, key == "debug_app" ? out.debug_app : out.debug_channel);
    }
    std::string text;
    if (core::status s = json::string(value, path, true, text); !s) {
        return s;
    }
    bool level = key == "log_level";
    std::optional<std::string> parsed = level ? parse_log_level(text) : parse_log_format(text);
    if (!parsed) {
        return json::fail(path, "expected " + std::string(level ? log_level_wanted : log_format_wanted));
    }
    (level ? out.log_level : out.log_format) = std::move(*parsed);
    return core::ok();
}

// "server.metrics": {"port": 9601, "host": "127.0.0.1"} (port 0: off).
core::status read_metrics(element value, const std::string& path, metrics_settings& out) {
    return json::each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        if (key == "port") {
            return json::number(v, p, 0, 65535, out.port);
        }
        if (key == "host") {
            return json::string(v, p, true, out.host);
        }
        return json::unknown(p);
    });
}

// "server.console": {"path": "/console", "token": "..."} (no path: off).
core::status read_console(element value, const std::string& path, console_settings& out) {
    return json::each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        if (key == "path") {
            return url_path(v, p, out.path);
        }
        if (key == "token") {
            if (core::status s = json::string(v, p, false, out.token); !s) {
                return s;
            }
            if (!out.token.empty() && out.token.size() < min_console_token) {
                return json::fail(p, "expected a token of " + std::to_string(min_console_token) +
                                         " characters or more");
            }
            return core::ok();
        }
        return json::unknown(p);
    });
}

core::status read_server(element value, const std::string& path, server& out, tls_sources& tls) {
    return json::each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        if (key == "host") {
            return json::string(v, p, true, out.host);
        }
        if (key == "port") {
            return json::number(v, p, 1, 65535, out.port);
        }
        if (key == "path") {
            return url_path(v, p, out.path);
        }
        if (key == "hostname") {
            return json::string(v, p, false, out.hostname);
        }
        if (key == "debug") {
            return json::boolean(v, p, out.debug);
        }
        if (key == "log_level" || key == "log_format" || key == "debug_app" || key == "debug_channel") {
            return read_log_setting(key, v, p, out);
        }
        if (key == "threads") {
            return json::number(v, p, 0, max_threads, out.threads);
        }
        if (key == "max_header_bytes") {
            // The request line and the headers a browser sends on an upgrade need about 1 KB.
            return json::number(v, p, 1024, max_u32, out.max_header_bytes);
        }
        if (key == "max_body_bytes") {
            return json::size(v, p, out.max_body_bytes);
        }
        if (key == "handshake_timeout") {
            return json::seconds(v, p, out.handshake_timeout_s);
        }
        if (key == "http_idle_timeout") {
            return json::seconds(v, p, out.http_idle_timeout_s);
        }
        if (key == "max_pending_write_bytes") {
            return json::size(v, p, out.max_pending_write_bytes);
        }
        if (key == "webhooks") {
            return json::read_webhook_settings(v, p, out.webhooks);
        }
        if (key == "redis") {
            return json::read_redis_settings(v, p, out.redis);
        }
        if (key == "metrics") {
            return read_metrics(v, p, out.metrics);
        }
        if (key == "console") {
            return read_console(v, p, out.console);
        }
        if (key == "tls") {
            return json::read_tls_settings(v, p, out.tls, tls);
        }
        return json::unknown(p);
    });
}

core::status read_root(element root, server& out, bool& has_apps, tls_sources& tls) {
    if (!root.is_object()) {
        return core::failure("expected a JSON object at the top level");
    }
    return json::each_field(root, "", [&](std::string_view key, element value, const std::string& path) {
        if (key == "server") {
            return read_server(value, path, out, tls);
        }
        if (key == "apps") {
            has_apps = true;
            return json::read_apps(value, path, out.apps);
        }
        return json::unknown(path);
    });
}

} // namespace

core::status read_json_config(const std::string& file, server& out, bool& has_apps, tls_sources& tls) {
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
    tls_sources keys;
    if (core::status s = read_root(root, settings, has_apps, keys); !s) {
        has_apps = false;
        return core::failure(file + ": " + s.message());
    }
    out = std::move(settings);
    if (!keys.setting.empty()) {
        tls.setting = file + ": " + keys.setting;
    }
    if (!keys.port.empty()) {
        tls.port = file + ": " + keys.port;
    }
    return core::ok();
}

} // namespace ringcast::config::detail
