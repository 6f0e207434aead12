// Redis scaling values read alike from the command line, the environment and the JSON file:
// the redis:// URL, a host on its own, the key prefix; and the settings as shown in the log.
#include "detail.h"

#include "ringcast/core/percent.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

namespace ringcast::config {
namespace {

bool is_unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// So a username with '@' or ':' still reads back as the URL it came from.
std::string percent_encode(std::string_view text) {
    constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        if (is_unreserved(c)) {
            out += c;
        } else {
            auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

} // namespace

std::string redis_settings::display() const {
    std::string out = tls ? "rediss://" : "redis://";
    if (!username.empty() || !password.empty()) {
        // The password is a secret and the log is not; that one is set is worth knowing.
        out += percent_encode(username) + (password.empty() ? "" : ":***") + "@";
    }
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return out + ":" + std::to_string(port) + "/" + std::to_string(db);
}

namespace detail {
namespace {

// `what` names the part ("username", "password") without echoing it: it may be a secret.
core::result<std::string> percent_decode(std::string_view text, std::string_view what) {
    std::optional<std::string> out = core::percent_decode(text, false);
    if (!out) {
        return core::failure("invalid percent-encoding in the " + std::string(what) +
                             " (\"%\" must be followed by two hex digits; write \"%25\" for \"%\")");
    }
    return std::move(*out);
}

// "[username]:password" before the '@'. A name without a password is refused rather than
// guessed at: Redis authenticates a user only with a password, and some clients read
// "redis://secret@host" as the password, others as the username.
core::status parse_credentials(std::string_view userinfo, redis_settings& out) {
    std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos || colon + 1 == userinfo.size()) {
        return core::failure(userinfo.empty() || userinfo == ":"
                                 ? "empty credentials before \"@\"; remove the \"@\""
                                 : "a username needs a password (redis://user:password@host), and a "
                                   "password alone is written redis://:password@host");
    }
    core::result<std::string> username = percent_decode(userinfo.substr(0, colon), "username");
    if (!username) {
        return username.error();
    }
    core::result<std::string> password = percent_decode(userinfo.substr(colon + 1), "password");
    if (!password) {
        return password.error();
    }
    out.username = std::move(*username);
    out.password = std::move(*password);
    return core::ok();
}

// The "/db" after the authority: none or "/" is database 0.
core::status parse_database(std::string_view path, redis_settings& out) {
    out.db = 0;
    if (path.size() <= 1) {
        return core::ok();
    }
    std::optional<std::uint64_t> n = parse_number(path.substr(1), 0, max_redis_db);
    if (!n) {
        return core::failure("database " + in_quotes(path.substr(1)) + ": " +
                             expected_range(0, max_redis_db));
    }
    out.db = static_cast<std::uint32_t>(*n);
    return core::ok();
}

// Clients differ in what they accept after '?' (timeout, ssl_cert_reqs, Reverb's own
// ?password=...), and a parameter read by none of ours would be a setting silently not in
// effect; so any is refused, by name (never by value, which may be a password). A bare "?" or
// empty "&" items carry no parameter and pass.
core::status check_query(std::string_view query) {
    std::string names;
    for (std::size_t start = 0; start < query.size();) {
        std::size_t amp = std::min(query.find('&', start), query.size());
        std::string_view item = query.substr(start, amp - start);
        if (!item.empty()) {
            names += (names.empty() ? "" : ", ") + in_quotes(item.substr(0, item.find('=')));
        }
        start = amp + 1;
    }
    if (names.empty()) {
        return core::ok();
    }
    return core::failure("unsupported query parameters " + names +
                         " (no parameter is supported; the URL holds host, port, credentials and database)");
}

core::result<bool> parse_redis_scheme(std::string_view url) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    auto starts_with = [&](std::string_view prefix) {
        if (url.size() < prefix.size()) {
            return false;
        }
        for (std::size_t i = 0; i < prefix.size(); ++i) {
            if (lower(url[i]) != prefix[i]) {
                return false;
            }
        }
        return true;
    };
    if (starts_with("rediss://")) {
        return true;
    }
    if (starts_with("redis://")) {
        return false;
    }
    return core::failure("expected a redis:// or rediss:// URL");
}

} // namespace

core::result<std::string> check_host(std::string_view host) {
    if (host.empty() || host == "[]") {
        return core::failure("missing host");
    }
    // REDIS_HOST=::1 is as natural as [::1] in a URL; either is stored without brackets.
    bool bracketed = host.starts_with('[') && host.ends_with(']');
    std::string_view bare = bracketed ? host.substr(1, host.size() - 2) : host;
    if (bracketed || bare.find(':') != std::string_view::npos) {
        in6_addr address{};
        std::string text(bare);
        if (inet_pton(AF_INET6, text.c_str(), &address) != 1) {
            return core::failure("invalid IPv6 address " + in_quotes(bare));
        }
        return text;
    }
    if (core::status s = check_host_name(bare); !s) {
        return s;
    }
    return std::string(bare);
}

core::status parse_redis_url(std::string_view url, redis_settings& out) {
    if (core::status s = check_url_characters(url); !s) {
        return s;
    }
    if (url.find('#') != std::string_view::npos) {
        return core::failure("a fragment (#...) has no meaning in a Redis URL (a \"#\" in a password is "
                             "written %23)");
    }
    core::result<bool> tls = parse_redis_scheme(url);
    if (!tls) {
        return tls.error();
    }
    std::string_view rest = url.substr(*tls ? 9 : 8);
    // Parsed into a copy: the URL is the whole connection, so no field of `out` survives it,
    // and a refused URL leaves `out` as it was.
    redis_settings parsed = out;
    parsed.tls = *tls;
    parsed.username.clear();
    parsed.password.clear();
    // Everything before the last '@' is the userinfo, so a password with an unencoded '@', '/'
    // or '?' still parses, and never ends up in a message as a "database" or a "parameter".
    if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
        if (core::status s = parse_credentials(rest.substr(0, at), parsed); !s) {
            return s;
        }
        rest.remove_prefix(at + 1);
    }
    std::size_t query = rest.find('?');
    std::size_t path = std::min(rest.find('/'), query);
    std::string_view authority = rest.substr(0, path);
    std::string_view db =
        path == std::string_view::npos ? std::string_view{} : rest.substr(path, query - path);
    const core::status problems[] = {
        parse_url_authority(authority, default_redis_port, parsed.host, parsed.port),
        parse_database(db, parsed),
        check_query(query == std::string_view::npos ? std::string_view{} : rest.substr(query + 1)),
    };
    for (const core::status& problem : problems) {
        if (!problem) {
            return problem;
        }
    }
    out = std::move(parsed);
    return core::ok();
}

std::string redact_redis_url(std::string_view url) {
    std::size_t scheme = url.find("://");
    std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
    std::string out(url.substr(0, start));
    std::string_view rest = url.substr(start);
    // Split as the parser splits: all before the last '@' is the userinfo. "user@host" may be
    // a password to some clients, so without a ':' the lot is hidden.
    if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
        std::size_t colon = rest.substr(0, at).find(':');
        out += colon == std::string_view::npos ? "***@" : std::string(rest.substr(0, colon)) + ":***@";
        rest.remove_prefix(at + 1);
    }
    // Query values may be credentials too (Reverb itself writes ?password=...).
    std::size_t query = rest.find('?');
    out += rest.substr(0, query);
    return query == std::string_view::npos ? out : out + "?...";
}

core::status check_redis_prefix(std::string_view prefix) {
    if (prefix.empty()) {
        return core::failure("expected a non-empty prefix");
    }
    if (prefix.size() > max_redis_prefix) {
        return core::failure("expected at most " + std::to_string(max_redis_prefix) + " characters");
    }
    for (char c : prefix) {
        auto byte = static_cast<unsigned char>(c);
        // It is part of every key and channel name: Redis would take these, but they are almost
        // always a pasting accident and make keys hard to type in redis-cli.
        if (byte <= 0x20 || byte == 0x7f) {
            return core::failure("spaces and control characters are not allowed in the prefix");
        }
    }
    return core::ok();
}

} // namespace detail
} // namespace ringcast::config
