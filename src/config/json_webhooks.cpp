// The JSON config file's webhooks: each app's "webhooks" targets in soketi's vocabulary
// (snake_case or camelCase) and the server-wide "server.webhooks" settings.
#include "json_reader.h"

#include <optional>
#include <utility>
#include <vector>

namespace ringcast::config::detail::json {
namespace {

// The snake_case keys of one object with each as written: a key under both spellings
// ("event_types" and "eventTypes") is an error, since only one could win.
class spellings {
public:
    core::status add(const std::string& key, std::string_view written, const std::string& object_path) {
        for (const auto& [k, earlier] : given_) {
            if (k == key) {
                return fail(object_path,
                            "both " + in_quotes(earlier) + " and " + in_quotes(written) + " given");
            }
        }
        given_.emplace_back(key, written);
        return core::ok();
    }

    [[nodiscard]] bool has(std::string_view key) const {
        for (const auto& given : given_) {
            if (given.first == key) {
                return true;
            }
        }
        return false;
    }

private:
    std::vector<std::pair<std::string, std::string_view>> given_;
};

core::status url(element v, const std::string& p, webhook_target& out) {
    std::string text;
    if (core::status s = string(v, p, true, text); !s) {
        return s;
    }
    if (core::status s = parse_webhook_url(text, out); !s) {
        return fail(p, s.message());
    }
    return core::ok();
}

core::status event_types(element v, const std::string& p, std::uint32_t& out) {
    simdjson::dom::array list;
    if (v.get_array().get(list) != simdjson::SUCCESS) {
        return fail(p, "expected an array of event type names");
    }
    if (list.size() == 0) {
        // A target that receives nothing is a mistake, not a way to switch it off.
        return fail(p, "expected at least one event type (omit the key for all but subscription_count)");
    }
    out = 0;
    std::size_t i = 0;
    for (element entry : list) {
        std::string item_path = index(p, i++);
        std::string_view name;
        if (entry.get_string().get(name) != simdjson::SUCCESS) {
            return fail(item_path, "expected an event type name (a string)");
        }
        core::result<webhook_kind> k = parse_webhook_kind(name);
        if (!k) {
            return fail(item_path, k.error().message());
        }
        out |= webhook_bit(*k);
    }
    return core::ok();
}

core::status headers(element v, const std::string& p, webhook_target& out) {
    return each_field(v, p, [&](std::string_view name, element value, const std::string& header_path) {
        std::string text;
        if (core::status s = string(value, header_path, false, text); !s) {
            return s;
        }
        if (core::status s = check_webhook_header(name, text); !s) {
            return fail(header_path, s.message());
        }
        out.headers.emplace_back(name, std::move(text));
        return core::ok();
    });
}

// soketi's filter: {"channel_name_starts_with": "...", "channel_name_ends_with": "..."}.
core::status filter(element v, const std::string& p, webhook_target& out) {
    spellings given;
    return each_field(v, p, [&](std::string_view written, element value, const std::string& key_path) {
        std::string key = snake_case(written);
        if (core::status s = given.add(key, written, p); !s) {
            return s;
        }
        if (key == "channel_name_starts_with") {
            return string(value, key_path, false, out.channel_prefix);
        }
        if (key == "channel_name_ends_with") {
            return string(value, key_path, false, out.channel_suffix);
        }
        return unknown(key_path);
    });
}

core::status target_field(const std::string& key, element v, const std::string& p, webhook_target& out) {
    if (key == "url") {
        return url(v, p, out);
    }
    if (key == "event_types") {
        return event_types(v, p, out.event_types);
    }
    if (key == "headers") {
        return headers(v, p, out);
    }
    if (key == "filter") {
        return filter(v, p, out);
    }
    if (key == "lambda_function" || key == "lambda") {
        // soketi can invoke a Lambda function instead of POSTing; said plainly rather than as an
        // unknown key, which would suggest a typo.
        return fail(p, "AWS Lambda webhook targets are not supported; give a url");
    }
    return unknown(p);
}

core::status read_target(element value, const std::string& path, webhook_target& out) {
    spellings given;
    core::status read =
        each_field(value, path, [&](std::string_view written, element v, const std::string& p) {
            std::string key = snake_case(written);
            if (core::status s = given.add(key, written, path); !s) {
                return s;
            }
            return target_field(key, v, p, out);
        });
    if (!read) {
        return read;
    }
    if (!given.has("url")) {
        return fail(path, "missing \"url\"");
    }
    if (!given.has("event_types")) {
        out.event_types = default_webhook_events();
    }
    return core::ok();
}

// A number of milliseconds from `min` to a day.
core::status milliseconds(element v, const std::string& p, std::uint64_t min, std::uint32_t& out) {
    return number(v, p, min, max_milliseconds, out);
}

core::status settings_field(std::string_view key, element v, const std::string& p, webhook_settings& out) {
    // One setting per line reads as the table it is.
    // clang-format off
    const std::pair<std::string_view, std::uint32_t webhook_settings::*> zero_or_more_ms[] = {
        {"batch_window_ms", &webhook_settings::batch_window_ms},
        {"debounce_ms", &webhook_settings::debounce_ms},
        {"retry_for_ms", &webhook_settings::retry_for_ms},
        {"shutdown_grace_ms", &webhook_settings::shutdown_grace_ms},
    };
    const std::pair<std::string_view, std::uint32_t webhook_settings::*> one_or_more_ms[] = {
        {"retry_initial_ms", &webhook_settings::retry_initial_ms},
        {"retry_max_ms", &webhook_settings::retry_max_ms},
        {"connect_timeout_ms", &webhook_settings::connect_timeout_ms},
        {"request_timeout_ms", &webhook_settings::request_timeout_ms},
    };
    // clang-format on
    for (const auto& [name, field] : zero_or_more_ms) {
        if (key == name) {
            return milliseconds(v, p, 0, out.*field);
        }
    }
    for (const auto& [name, field] : one_or_more_ms) {
        if (key == name) {
            return milliseconds(v, p, 1, out.*field);
        }
    }
    if (key == "batch_max_events") {
        return size(v, p, out.batch_max_events);
    }
    if (key == "max_pending_events") {
        return size(v, p, out.max_pending_events);
    }
    if (key == "ca_file") {
        // "" is the default spelled out: the system's trusted roots.
        if (core::status s = string(v, p, false, out.ca_file); !s) {
            return s;
        }
        if (core::status s = out.ca_file.empty() ? core::ok() : check_ca_file(out.ca_file); !s) {
            return fail(p, s.message());
        }
        return core::ok();
    }
    return unknown(p);
}

} // namespace

core::status read_webhooks(element value, const std::string& path, std::vector<webhook_target>& out) {
    simdjson::dom::array list;
    if (value.get_array().get(list) != simdjson::SUCCESS) {
        return fail(path, "expected an array of webhook targets");
    }
    // An empty list is allowed: it is how an app says it has no webhooks, as in soketi.
    out.clear();
    for (element entry : list) {
        std::string entry_path = index(path, out.size());
        if (core::status s = read_target(entry, entry_path, out.emplace_back()); !s) {
            return s;
        }
    }
    return core::ok();
}

core::status read_webhook_settings(element value, const std::string& path, webhook_settings& out) {
    core::status read = each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        return settings_field(key, v, p, out);
    });
    if (!read) {
        return read;
    }
    // Checked once all keys are read, so the order they are written in does not matter.
    if (out.retry_max_ms < out.retry_initial_ms) {
        return fail(child(path, "retry_max_ms"), std::to_string(out.retry_max_ms) +
                                                     " is less than retry_initial_ms (" +
                                                     std::to_string(out.retry_initial_ms) + ")");
    }
    return core::ok();
}

} // namespace ringcast::config::detail::json
