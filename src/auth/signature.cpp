// REST signature verification with messages that tell the caller what to fix.
#include "ringcast/auth/signature.h"

#include "ringcast/core/crypto.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

namespace ringcast::auth {

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

const std::string* find_param(const params& query, std::string_view key) {
    for (const auto& [k, v] : query) {
        if (k.size() == key.size() && lower(k) == key) {
            return &v;
        }
    }
    return nullptr;
}

core::status refuse(std::string message) {
    return core::failure(std::move(message), 401);
}
} // namespace

std::string canonical_query(const params& query) {
    std::vector<std::pair<std::string, std::string_view>> sorted;
    sorted.reserve(query.size());
    for (const auto& [k, v] : query) {
        std::string key = lower(k);
        if (key != "auth_signature") {
            sorted.emplace_back(std::move(key), v);
        }
    }
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [k, v] : sorted) {
        if (!out.empty()) {
            out += '&';
        }
        out += k;
        out += '=';
        out += v;
    }
    return out;
}

std::string string_to_sign(std::string_view method, std::string_view path, const params& query) {
    std::string s(method);
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
