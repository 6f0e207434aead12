// JSON answers of the channel-information endpoints.
#include "ringcast/api/channels.h"

#include "ringcast/core/json_writer.h"
#include "ringcast/pusher/channel_name.h"

#include <algorithm>

namespace ringcast::api {

core::result<info_request> parse_info(std::string_view info) {
    info_request out;
    while (!info.empty()) {
        size_t comma = info.find(',');
        std::string_view attr = info.substr(0, comma);
        info = comma == std::string_view::npos ? std::string_view{} : info.substr(comma + 1);
        if (attr == "user_count") {
            out.user_count = true;
        } else if (attr == "subscription_count") {
            out.subscription_count = true;
        } else if (attr == "cache") {
            out.cache = true;
        } else if (!attr.empty()) {
            return core::failure("Unknown info attribute \"" + std::string(attr) +
                                     "\": use user_count, subscription_count or cache",
                                 400);
        }
    }
    return out;
}

std::string counts_json(const pusher::channel_summary& channel, const info_request& info) {
    bool presence = pusher::is_presence(pusher::kind_of(channel.name));
    std::string out = "{";
    if (info.user_count && presence) {
        out += "\"user_count\":" + std::to_string(channel.users);
    }
    if (info.subscription_count && !presence) {
        if (out.size() > 1) {

            out += ',';
        }
        out += "\"subscription_count\":" + std::to_string(channel.subscriptions);
    }
    out += '}';
    return out;
}

std::string channel_list_json(std::vector<pusher::channel_summary> channels, const info_request& info) {
    std::sort(channels.begin(), channels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    std::string out = "{\"channels\":{";
    for (size_t i = 0; i < channels.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        core::append_json_string(out, channels[i].name);
        out += ':';
        out += counts_json(channels[i], info);
    }
    out += "}}";
    return out;
}

std::string channel_json(const pusher::channel_summary& channel, const info_request& info) {
    std::string out = "{\"occupied\":";
    out += channel.subscriptions > 0 ? "true" : "false";
    if (info.user_count) {
        out += ",\"user_count\":" + std::to_string(channel.users);
    }
    if (info.subscription_count) {
        out += ",\"subscription_count\":" + std::to_string(channel.subscriptions);
    }
    if (info.cache && channel.has_cache) {
        out += ",\"cache\":{\"data\":";
        core::append_json_string(out, channel.cache_data);
        out += ",\"ttl\":" + std::to_string(channel.cache_ttl_s) + "}";
    }
    out += '}';
    return out;
}

std::string users_json(const std::vector<std::string>& ids) {
    std::string out = "{\"users\":[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        out += "{\"id\":";
        core::append_json_string(out, ids[i]);
        out += '}';
    }
    out += "]}";
    return out;
}

} // namespace ringcast::api
