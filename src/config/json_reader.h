// Private to src/config: the readers the JSON config file (--config) is checked with, shared by
// the server settings (json_file.cpp) and the apps (json_apps.cpp). Each stops at the first
// problem with a message that names the key path ("apps[1].key: ..."); read_json_config puts the
// file name in front, since a config error is fixed by someone reading that message alone.
#pragma once

#include "detail.h"

#include "ringcast/core/status.h"

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::config::detail::json {

using simdjson::dom::element;

// "parent.key" and "parent[i]", the key paths messages name.
[[nodiscard]] std::string child(const std::string& parent, std::string_view key);
[[nodiscard]] std::string index(const std::string& parent, std::size_t i);

// "PATH: WHAT".
[[nodiscard]] core::status fail(const std::string& path, std::string_view what);

// Unknown keys are errors rather than ignored: they are almost always typos of a real key,
// and a silently ignored "ping_intervall" is a setting the user believes is in effect.
[[nodiscard]] core::status unknown(const std::string& path);

// Calls field(key, value, path) for each member of the object at `path`, stopping at the first
// failure; a key given twice is an error because only one of the two values could take effect.
using field_handler =
    std::function<core::status(std::string_view key, element value, const std::string& path)>;
[[nodiscard]] core::status each_field(element value, const std::string& path, const field_handler& field);

// An integer in [min, max] (negative numbers and fractions are out of range here).
template <class Number>
[[nodiscard]] core::status number(element value, const std::string& path, std::uint64_t min,
                                  std::uint64_t max, Number& out) {
    std::uint64_t n = 0;
    if (value.get_uint64().get(n) != simdjson::SUCCESS || n < min || n > max) {
        return fail(path, expected_range(min, max));
    }
    out = static_cast<Number>(n);
    return core::ok();
}

// A timeout or interval: 1 to max_seconds.
[[nodiscard]] core::status seconds(element value, const std::string& path, std::uint32_t& out);
// A size or count: 1 to max_u32.
[[nodiscard]] core::status size(element value, const std::string& path, std::uint32_t& out);
[[nodiscard]] core::status string(element value, const std::string& path, bool non_empty, std::string& out);
[[nodiscard]] core::status boolean(element value, const std::string& path, bool& out);

// The "apps" array (json_apps.cpp): replaces `out` with the apps it lists.
[[nodiscard]] core::status read_apps(element value, const std::string& path, std::vector<app>& out);

// An app's "webhooks" array (json_webhooks.cpp): replaces `out` with the targets it lists.
[[nodiscard]] core::status read_webhooks(element value, const std::string& path,
                                         std::vector<webhook_target>& out);

// The "server.webhooks" object (json_webhooks.cpp), read over `out` (which holds the defaults).
[[nodiscard]] core::status read_webhook_settings(element value, const std::string& path,
                                                 webhook_settings& out);

// The "server.redis" object (json_redis.cpp), read over `out` (which holds the defaults).
[[nodiscard]] core::status read_redis_settings(element value, const std::string& path, redis_settings& out);

// The "server.tls" object (json_tls.cpp), read over `out` (which holds the defaults): its
// certificates, when it names any, replace out.certificates. Records in `names` the key paths
// check_tls may name.
[[nodiscard]] core::status read_tls_settings(element value, const std::string& path, tls_settings& out,
                                             tls_sources& names);

} // namespace ringcast::config::detail::json
