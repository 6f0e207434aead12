// URL and webhook values read alike from the JSON file and the environment: the authority (host
// and port) of any URL we read, target URLs, event type names, extra headers and the CA file.
#include "detail.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace ringcast::config::detail {
namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_alnum(char c) {
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
}

// A DNS label: letters, digits, hyphens inside, and '_' because container and compose service
// names use it and resolvers accept it.
bool is_label(std::string_view label) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
        return false;
    }
    for (char c : label) {
        if (!is_alnum(c) && c != '-' && c != '_') {
            return false;
        }
    }
    return true;
}

// "host", "host:port", "[v6]" or "[v6]:port", after the scheme and before the path.
core::status parse_authority(std::string_view authority, webhook_target& out) {
    if (authority.find('@') != std::string_view::npos) {
        // Basic credentials in the URL would travel in the clear in logs and messages; a header
        // says the same thing on purpose.
        return core::failure(
            "credentials in the URL (user@host) are not supported; send them in \"headers\"");
    }
    return parse_url_authority(authority, out.tls ? std::uint16_t{443} : std::uint16_t{80}, out.host,
                               out.port);
}

// The scheme, case-insensitive as RFC 3986 says; sets out.tls. Returns the length of "scheme://".
core::result<std::size_t> parse_scheme(std::string_view url, webhook_target& out) {
    using namespace std::string_view_literals;
    for (auto [scheme, tls] : {std::pair{"https://"sv, true}, std::pair{"http://"sv, false}}) {
        if (url.size() >= scheme.size() && equals_ignoring_case(url.substr(0, scheme.size()), scheme)) {
            out.tls = tls;
            return scheme.size();
        }
    }
    return core::failure("expected an http:// or https:// URL");
}

} // namespace

core::status check_host_name(std::string_view host) {
    bool numeric = true;
    for (char c : host) {
        numeric = numeric && (is_digit(c) || c == '.');
    }
    if (numeric) {
        in_addr address{};
        std::string text(host);
        if (inet_pton(AF_INET, text.c_str(), &address) != 1) {
            return core::failure("invalid IPv4 address " + in_quotes(host));
        }
        return core::ok();
    }
    // One trailing dot is the fully qualified spelling of the same name.
    std::string_view name = host.ends_with('.') ? host.substr(0, host.size() - 1) : host;
    if (name.size() > 253) {
        return core::failure("host name longer than 253 characters");
    }
    for (std::size_t start = 0;;) {
        std::size_t dot = name.find('.', start);
        if (!is_label(name.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
            return core::failure("invalid host name " + in_quotes(host));
        }
        if (dot == std::string_view::npos) {
            return core::ok();
        }
        start = dot + 1;
    }
}

core::status parse_url_authority(std::string_view authority, std::uint16_t default_port, std::string& host,
                                 std::uint16_t& port) {
    std::string_view name = authority;
    std::string_view suffix;
    if (authority.starts_with('[')) {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return core::failure("missing \"]\" after the IPv6 address");
        }
        name = authority.substr(0, close + 1);
        suffix = authority.substr(close + 1);
        if (!suffix.empty() && !suffix.starts_with(':')) {
            return core::failure("expected \":PORT\" or the path after \"]\"");
        }
    } else if (std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
        name = authority.substr(0, colon);
        suffix = authority.substr(colon);
    }
    core::result<std::string> checked = check_host(name);
    if (!checked) {
        return checked.error();
    }
    core::result<std::uint16_t> n = url_port(suffix, default_port);
    if (!n) {
        return n.error();
    }
    host = std::move(*checked);
    port = *n;
    return core::ok();
}

core::result<std::uint16_t> url_port(std::string_view suffix, std::uint16_t fallback) {
    if (suffix.empty()) {
        return fallback;
    }
    std::optional<std::uint64_t> n = parse_number(suffix.substr(1), 1, 65535);
    if (!n) {
        return core::failure("port " + in_quotes(suffix.substr(1)) + ": " + expected_range(1, 65535));
    }
    return static_cast<std::uint16_t>(*n);
}

core::status check_url_characters(std::string_view url) {
    for (char c : url) {
        auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f) {
            return core::failure("spaces and control characters are not allowed in a URL");
        }
        if (byte >= 0x80) {
            // The request line is ASCII: other characters must be percent-encoded by the writer.
            return core::failure("only ASCII characters are allowed in a URL (percent-encode the others)");
        }
    }
    return core::ok();
}

std::uint32_t default_webhook_events() noexcept {
    std::uint32_t all = (1U << webhook_kind_count) - 1;
    return all & ~webhook_bit(webhook_kind::subscription_count);
}

core::status parse_webhook_url(std::string_view url, webhook_target& out) {
    if (core::status s = check_url_characters(url); !s) {
        return s;
    }
    if (url.find('#') != std::string_view::npos) {
        return core::failure("a fragment (#...) is never sent to the server; remove it");
    }
    core::result<std::size_t> scheme = parse_scheme(url, out);
    if (!scheme) {
        return scheme.error();
    }
    std::string_view rest = url.substr(*scheme);
    std::size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    if (core::status s = parse_authority(authority, out); !s) {
        return s;
    }
    std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    // "http://host?x" asks for "/?x": the path of an absolute URL is never empty on the wire.
    out.request_target = target.starts_with('/') ? std::string(target) : "/" + std::string(target);
    out.url = url;
    return core::ok();
}

core::result<webhook_kind> parse_webhook_kind(std::string_view name) {
    if (std::optional<webhook_kind> k = webhook_kind_from_name(name)) {
        return *k;
    }
    std::string valid;
    for (unsigned i = 0; i < webhook_kind_count; ++i) {
        valid += (i == 0 ? "" : ", ") + std::string(webhook_kind_name(static_cast<webhook_kind>(i)));
    }
    return core::failure("unknown event type " + in_quotes(name) + "; expected one of " + valid);
}

core::result<std::uint32_t> parse_webhook_kinds(std::string_view list) {
    std::uint32_t bits = 0;
    for (std::size_t start = 0; start <= list.size();) {
        std::size_t comma = std::min(list.find(',', start), list.size());
        std::string_view item = list.substr(start, comma - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        if (item.empty()) {
            return core::failure("empty event type in the list");
        }
        core::result<webhook_kind> k = parse_webhook_kind(item);
        if (!k) {
            return k.error();
        }
        bits |= webhook_bit(*k);
        start = comma + 1;
    }
    return bits;
}

core::status check_webhook_header(std::string_view name, std::string_view value) {
    // The headers every request carries; one configured twice would be ambiguous to the receiver,
    // and a replaced X-Pusher-Signature or Content-Length would make the request unverifiable.
    constexpr std::array<std::string_view, 7> ours = {
        "X-Pusher-Key", "X-Pusher-Signature", "Content-Type",      "Content-Length",
        "Host",         "Connection",         "Transfer-Encoding",
    };
    if (name.empty()) {
        return core::failure("empty header name");
    }
    for (char c : name) {
        if (!is_alnum(c) && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) {
            return core::failure("header name " + in_quotes(name) +
                                 " is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)");
        }
    }
    for (std::string_view reserved : ours) {
        if (equals_ignoring_case(name, reserved)) {
            return core::failure(in_quotes(reserved) + " is set by ringcast and cannot be overridden");
        }
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        return core::failure("header value must not contain CR, LF or NUL");
    }
    return core::ok();
}

core::status check_ca_file(const std::string& file) {
    if (file.empty()) {
        return core::failure("expected a file name");
    }
    core::result<std::string> text = read_file(file);
    if (!text) {
        return core::failure("cannot read " + file + ": " + text.error().message());
    }
    return core::ok();
}

} // namespace ringcast::config::detail
