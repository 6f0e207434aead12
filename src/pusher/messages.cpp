// Encoders for the fixed server messages.
#include "ringcast/pusher/messages.h"

#include "ringcast/core/json_writer.h"
#include "ringcast/ws/frame_encoder.h"

namespace ringcast::pusher {

net::frame_ref connection_established(std::string_view socket_id, std::uint32_t activity_timeout_s) {
    // Written already escaped (the socket id is digits and a dot): one of these per connect.
    std::string msg;
    msg.reserve(128);
    msg += R"({"event":"pusher:connection_established","data":"{\"socket_id\":\")";
    msg += socket_id;
    msg += R"(\",\"activity_timeout\":)";
    msg += std::to_string(activity_timeout_s);
    msg += R"(}"})";
    return ws::text_frame(msg);
}

net::frame_ref error(std::optional<std::uint16_t> code, std::string_view message) {
    std::string msg = "{\"event\":\"pusher:error\",\"data\":{\"code\":";
    msg += code ? std::to_string(*code) : std::string("null");
    msg += ",\"message\":";
    core::append_json_string(msg, message);
    msg += "}}";
    return ws::text_frame(msg);
}

net::frame_ref pong() {
    return ws::text_frame(R"({"event":"pusher:pong","data":"{}"})");
}

net::frame_ref ping() {
    return ws::text_frame(R"({"event":"pusher:ping","data":"{}"})");
}

net::frame_ref subscription_succeeded(std::string_view channel) {
    std::string msg = "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":";
    core::append_json_string(msg, channel);
    msg += ",\"data\":\"{}\"}";
    return ws::text_frame(msg);
}

net::frame_ref subscription_succeeded(std::string_view channel, std::string_view presence_data) {
    return channel_event("pusher_internal:subscription_succeeded", channel, presence_data);
}

std::string presence_data(const std::vector<std::pair<std::string_view, std::string_view>>& members) {
    std::string ids = "[";
    std::string hash = "{";
    for (const auto& [id, info] : members) {
        if (ids.size() > 1) {
            ids += ',';
            hash += ',';
        }
        core::append_json_string(ids, id);
        core::append_json_string(hash, id);
        hash += ':';
        hash += info;
    }
    return "{\"presence\":{\"ids\":" + ids + "],\"hash\":" + hash +
           "},\"count\":" + std::to_string(members.size()) + "}}";
}

net::frame_ref member_added(std::string_view channel, std::string_view user_id, std::string_view user_info) {
    std::string data = "{\"user_id\":";
    core::append_json_string(data, user_id);
    data += ",\"user_info\":";
    data += user_info;
    data += '}';
    return channel_event("pusher_internal:member_added", channel, data);
}

net::frame_ref member_removed(std::string_view channel, std::string_view user_id) {
    std::string data = "{\"user_id\":";
    core::append_json_string(data, user_id);
    data += '}';
    return channel_event("pusher_internal:member_removed", channel, data);
}

net::frame_ref cache_miss(std::string_view channel) {
    std::string msg = "{\"event\":\"pusher:cache_miss\",\"channel\":";
    core::append_json_string(msg, channel);
    msg += '}';
    return ws::text_frame(msg);
}

net::frame_ref subscription_count(std::string_view channel, std::uint32_t count) {
    return channel_event("pusher_internal:subscription_count", channel,
                         "{\"subscription_count\":" + std::to_string(count) + "}");
}

net::frame_ref signin_success(std::string_view user_data) {
    std::string msg = "{\"event\":\"pusher:signin_success\",\"data\":{\"user_data\":";
    core::append_json_string(msg, user_data);
    msg += "}}";
    return ws::text_frame(msg);
}

net::frame_ref watchlist_events(const std::vector<std::string>& online,
                                const std::vector<std::string>& offline) {
    std::string msg = "{\"event\":\"pusher_internal:watchlist_events\",\"data\":{\"events\":[";
    bool first = true;
    for (const auto* group : {&online, &offline}) {
        if (group->empty()) {
            continue;
        }
        if (!first) {
            msg += ',';
        }
        first = false;
        msg +=
            group == &online ? "{\"name\":\"online\",\"user_ids\":[" : "{\"name\":\"offline\",\"user_ids\":[";
        for (size_t i = 0; i < group->size(); ++i) {
            if (i != 0) {
                msg += ',';
            }
            core::append_json_string(msg, (*group)[i]);
        }
        msg += "]}";
    }
    msg += "]}}";
    return ws::text_frame(msg);
}

net::frame_ref client_event(std::string_view event, std::string_view channel, std::string_view data_json,
                            std::string_view user_id) {
    std::string msg = "{\"event\":";
    core::append_json_string(msg, event);
    msg += ",\"channel\":";
    core::append_json_string(msg, channel);
    if (!data_json.empty()) {
        msg += ",\"data\":";
        msg += data_json;
    }
    if (!user_id.empty()) {
        msg += ",\"user_id\":";
        core::append_json_string(msg, user_id);
    }
    msg += '}';
    return ws::text_frame(msg);
}

net::frame_ref subscription_error(std::string_view channel, std::string_view type, std::string_view message,
                                  int status) {
    std::string msg = "{\"event\":\"pusher:subscription_error\",\"channel\":";
    core::append_json_string(msg, channel);
    msg += ",\"data\":{\"type\":";
    core::append_json_string(msg, type);
    msg += ",\"error\":";
    core::append_json_string(msg, message);
    msg += ",\"status\":";
    msg += std::to_string(status);
    msg += "}}";
    return ws::text_frame(msg);
}

net::frame_ref channel_event(std::string_view event, std::string_view channel, std::string_view data) {
    // Runs once per publish and channel, never per subscriber: one string build, one copy
    // into the shared frame.
    std::string msg;
    msg.reserve(40 + event.size() + channel.size() + data.size() + data.size() / 8);
    msg += "{\"event\":";
    core::append_json_string(msg, event);
    msg += ",\"channel\":";
    core::append_json_string(msg, channel);
    msg += ",\"data\":";
    core::append_json_string(msg, data);
    msg += '}';
    return ws::text_frame(msg);
}

std::string_view payload_of(const net::frame& f) noexcept {
    std::string_view v = f.view();
    if (v.size() < 2) {
        return {};
    }
    auto len7 = static_cast<unsigned char>(v[1]) & 0x7f;
    size_t header = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
    return v.size() >= header ? v.substr(header) : std::string_view{};
}

} // namespace ringcast::pusher
