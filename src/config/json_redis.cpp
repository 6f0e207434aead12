// The JSON config file's "server.redis": Redis scaling as one "url" or as its parts, checked by
// the readers the command line and the environment share (redis.cpp).
#include "json_reader.h"

#include <utility>

namespace ringcast::config::detail::json {
namespace {

// What the object gave, to check the combinations once every key is read.
struct given {
    std::string url_path;  // "" = no "url"
    std::string_view part; // the first of host, port, ... ("" = none)
    bool enabled = false;
    bool username = false;
    bool password = false;
};

core::status url(element v, const std::string& p, redis_settings& out) {
    std::string text;
    if (core::status s = string(v, p, true, text); !s) {
        return s;
    }
    if (core::status s = parse_redis_url(text, out); !s) {
        return fail(p, s.message());
    }
    return core::ok();
}

core::status host(element v, const std::string& p, std::string& out) {
    std::string text;
    if (core::status s = string(v, p, true, text); !s) {
        return s;
    }
    core::result<std::string> checked = check_host(text);
    if (!checked) {
        return fail(p, checked.error().message());
    }
    out = std::move(*checked);
    return core::ok();
}

core::status prefix(element v, const std::string& p, std::string& out) {
    std::string text;
    if (core::status s = string(v, p, true, text); !s) {
        return s;
    }
    if (core::status s = check_redis_prefix(text); !s) {
        return fail(p, s.message());
    }
    out = std::move(text);
    return core::ok();
}

// One of the keys a "url" also sets.
core::status part(std::string_view key, element v, const std::string& p, redis_settings& out, given& seen) {
    if (seen.part.empty()) {
        seen.part = key;
    }
    if (key == "host") {
        return host(v, p, out.host);
    }
    if (key == "port") {
        return number(v, p, 1, 65535, out.port);
    }
    if (key == "username" || key == "password") {
        std::string& field = key == "username" ? out.username : out.password;
        core::status s = string(v, p, false, field);
        // "" is none, as the default.
        (key == "username" ? seen.username : seen.password) = !field.empty();
        return s;
    }
    if (key == "db") {
        return number(v, p, 0, max_redis_db, out.db);
    }
    return boolean(v, p, out.tls);
}

bool is_part(std::string_view key) {
    return key == "host" || key == "port" || key == "username" || key == "password" || key == "db" ||
           key == "tls";
}

} // namespace

core::status read_redis_settings(element value, const std::string& path, redis_settings& out) {
    redis_settings read = out;
    given seen;
    core::status s = each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        if (key == "enabled") {
            seen.enabled = true;
            return boolean(v, p, read.enabled);
        }
        if (key == "prefix") {
            return prefix(v, p, read.prefix);
        }
        if (key == "ca_file") {
            return string(v, p, true, read.ca_file);
        }
        if (key == "url") {
            seen.url_path = p;
            return url(v, p, read);
        }
        if (is_part(key)) {
            return part(key, v, p, read, seen);
        }
        return unknown(p);
    });
    if (!s) {
        return s;
    }
    if (!seen.url_path.empty() && !seen.part.empty()) {
        // Which would win is a guess either way; the URL is meant to be the whole connection.
        return fail(path, "both \"url\" and " + in_quotes(seen.part) + " given; use one or the other");
    }
    if (seen.username && !seen.password) {
        // Redis authenticates a user only with a password (as redis:// URLs say too).
        return fail(child(path, "username"), "needs \"password\" too");
    }
    if (!seen.url_path.empty() && !seen.enabled) {
        // A URL is a request for scaling, as --redis is; "enabled": false still switches it off.
        read.enabled = true;
    }
    out = std::move(read);
    return core::ok();
}

} // namespace ringcast::config::detail::json
