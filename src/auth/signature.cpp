// REST signature verification with messages that tell the caller what to fix.
#include "ringcast/auth/signature.h"

#include "ringcast/core/crypto.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace ringcast::auth {

namespace {
char ascii_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

// `name` in any case equals `lower_key` (already lower case), without building a string.
bool same_key(std::string_view name, std::string_view lower_key) noexcept {
    if (name.size() != lower_key.size()) {
        return false;
    }
    for (size_t i = 0; i < name.size(); ++i) {
        if (ascii_lower(name[i]) != lower_key[i]) {
            return false;
        }
    }
    return true;
}

bool key_less(std::string_view a, std::string_view b) noexcept {
    size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        char x = ascii_lower(a[i]);
        char y = ascii_lower(b[i]);
        if (x != y) {
            return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
        }
    }
    return a.size() < b.size();
}

const std::string* find_param(const params& query, std::string_view key) {
    for (const auto& [k, v] : query) {
        if (same_key(k, key)) {
            return &v;
        }
    }
    return nullptr;
}

core::status refuse(std::string message) {
    return core::failure(std::move(message), 401);
}
} // namespace

// Runs once per API request: sorted by pointer, keys lowered as they are written.
std::string canonical_query(const params& query) {
    std::vector<const std::pair<std::string, std::string>*> sorted;
    sorted.reserve(query.size());
    size_t length = 0;
    for (const auto& p : query) {
        if (!same_key(p.first, "auth_signature")) {
            sorted.push_back(&p);
            length += p.first.size() + p.second.size() + 2;
        }
    }
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto* a, const auto* b) { return key_less(a->first, b->first); });
    std::string out;
    out.reserve(length);
    for (const auto* p : sorted) {
        if (!out.empty()) {
            out += '&';
        }
        for (char c : p->first) {
            out += ascii_lower(c);
        }
        out += '=';
        out += p->second;
    }
    return out;
}

std::string string_to_sign(std::string_view method, std::string_view path, const params& query) {
    std::string s;
    s.reserve(method.size() + path.size() + 256);
    s += method;
    s += '\n';
    s += path;
    s += '\n';
    s += canonical_query(query);
    return s;
}

core::status verify(const app_credentials& app, std::string_view method, std::string_view path,
                    std::string_view prefix, const params& query, std::string_view body,
                    std::int64_t now_unix) {
    const std::string* key = find_param(query, "auth_key");
    const std::string* timestamp = find_param(query, "auth_timestamp");
    const std::string* signature = find_param(query, "auth_signature");
    if (key == nullptr || timestamp == nullptr || signature == nullptr) {
        return refuse("Missing authentication parameters: auth_key, auth_timestamp, auth_version and "
                      "auth_signature are required in the query string");
    }
    if (*key != app.key) {
        return refuse("auth_key \"" + *key + "\" does not belong to app " + std::string(app.id));
    }
    std::int64_t ts = 0;
    auto [end, ec] = std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), ts);
    if (ec != std::errc{} || end != timestamp->data() + timestamp->size()) {
        return refuse("auth_timestamp must be a Unix time in seconds, got \"" + *timestamp + "\"");
    }
    std::int64_t skew = now_unix > ts ? now_unix - ts : ts - now_unix;
    if (skew > timestamp_window_s) {
        return refuse("Timestamp expired: auth_timestamp " + *timestamp + " is " + std::to_string(skew) +
                      " s away from the server's clock (" + std::to_string(now_unix) + "); at most " +
                      std::to_string(timestamp_window_s) + " s is allowed. Check the publisher's clock.");
    }
    const std::string* md5 = find_param(query, "body_md5");
    if (!body.empty() || md5 != nullptr) {
        std::string actual = core::md5_hex(body);
        if (md5 == nullptr) {
            return refuse("body_md5 is required for a request with a body (MD5 hex of the body: " + actual +
                          ")");
        }
        if (!core::constant_time_equal(lower(*md5), actual)) {
            return refuse("body_md5 " + *md5 + " does not match the MD5 of the body received (" + actual +
                          ")");
        }
    }
    std::string expected_text = string_to_sign(method, path, query);
    if (core::constant_time_equal(core::hmac_sha256_hex(app.secret, expected_text), lower(*signature))) {
        return core::ok();
    }
    if (!prefix.empty() && path.starts_with(prefix)) {
        std::string unprefixed_text = string_to_sign(method, path.substr(prefix.size()), query);
        if (core::constant_time_equal(core::hmac_sha256_hex(app.secret, unprefixed_text),
                                      lower(*signature))) {
            return core::ok();
        }
        // Report the form SDKs use (without the prefix), which is what callers most likely signed.
        expected_text = std::move(unprefixed_text);
    }
    std::string shown;
    for (char c : expected_text) {
        shown += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return refuse("Invalid signature: you should have sent HmacSHA256Hex(\"" + shown +
                  "\", your_secret_key), but you sent \"" + *signature + "\"");
}

} // namespace ringcast::auth
