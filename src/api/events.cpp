// The events endpoint: limits and messages follow hosted Pusher (spec section 2).
#include "ringcast/api/events.h"
#include "ringcast/core/json.h"

#include "ringcast/net/frame.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/socket_id.h"

namespace ringcast::api {

namespace {
api_error add_channel(std::string_view name, const config::app& app, event_request& out) {
    if (std::string why = pusher::check_channel_name(name, app.max_channel_name_length); !why.empty()) {
        return {400, why};
    }
    out.channels.emplace_back(name);
    return {};
}
} // namespace

api_error parse_event(simdjson::dom::parser& json, std::string_view body, const config::app& app,
                      event_request& out) {
    simdjson::dom::element root;
    if (auto err = core::parse_json(json, body).get(root)) {
        return {400, std::string("Request body is not valid JSON: ") + simdjson::error_message(err)};
    }
    simdjson::dom::object obj;
    if (root.get_object().get(obj)) {
        return {400, "Request body must be a JSON object with name, data and channels"};
    }
    return parse_event_fields(obj, app, out);
}

api_error parse_batch(simdjson::dom::parser& json, std::string_view body, const config::app& app,
                      std::vector<event_request>& out) {
    simdjson::dom::element root;
    if (auto err = core::parse_json(json, body).get(root)) {
        return {400, std::string("Request body is not valid JSON: ") + simdjson::error_message(err)};
    }
    simdjson::dom::array batch;
    if (root["batch"].get_array().get(batch)) {
        return {400, "Request body must be {\"batch\": [events]}"};
    }
    if (batch.size() > app.max_batch_size) {
        return {400, "A batch can hold at most " + std::to_string(app.max_batch_size) +
                         " events; this one has " + std::to_string(batch.size())};
    }
    size_t i = 0;
    for (simdjson::dom::element e : batch) {
        simdjson::dom::object obj;
        event_request ev;
        api_error err;
        if (e.get_object().get(obj)) {
            err = {400, "must be an event object"};
        } else {
            err = parse_event_fields(obj, app, ev);
        }
        if (err) {
            err.message = "batch[" + std::to_string(i) + "]: " + err.message;
            return err;
        }
        out.push_back(std::move(ev));
        ++i;
    }
    return {};
}

api_error parse_event_fields(simdjson::dom::object obj, const config::app& app, event_request& out) {
    std::string_view name;
    if (obj["name"].get_string().get(name) || name.empty()) {
        return {400, "\"name\" (the event name, a non-empty string) is required"};
    }
    if (name.size() > app.max_event_name_length) {
        return {400, "Event name is " + std::to_string(name.size()) + " characters long; the limit is " +
                         std::to_string(app.max_event_name_length)};
    }
    out.name = name;

    simdjson::dom::element data;
    if (obj["data"].get(data)) {
        return {400, "\"data\" (the event payload, a string) is required"};
    }
    std::string_view data_text;
    if (data.get_string().get(data_text)) {
        // SDKs always send a string; a raw JSON value from a hand-written request is passed on
        // as its JSON text, which is what subscribers would have got from an SDK.
        out.data = simdjson::minify(data);
    } else {
        out.data = data_text;
    }
    if (out.data.size() > app.max_event_payload_bytes) {
        return {413, "Event data is " + std::to_string(out.data.size()) + " bytes; the limit is " +
                         std::to_string(app.max_event_payload_bytes) + " bytes"};
    }

    simdjson::dom::element channels;
    std::string_view single;
    if (!obj["channels"].get(channels)) {
        simdjson::dom::array list;
        if (channels.get_array().get(list)) {
            return {400, "\"channels\" must be an array of channel names"};
        }
        for (simdjson::dom::element c : list) {
            std::string_view ch;
            if (c.get_string().get(ch)) {
                return {400, "\"channels\" must contain only strings"};
            }
            if (out.channels.size() >= app.max_event_channels) {
                return {400, "An event can be published to at most " +
                                 std::to_string(app.max_event_channels) + " channels at once"};
            }
            if (auto err = add_channel(ch, app, out)) {
                return err;
            }
        }
    } else if (!obj["channel"].get_string().get(single)) {
        if (auto err = add_channel(single, app, out)) {
            return err;
        }
    }
    if (out.channels.empty()) {
        return {400, "\"channels\" (an array) or \"channel\" (a string) is required"};
    }

    simdjson::dom::element sid;
    if (!obj["socket_id"].get(sid) && !sid.is_null()) {
        std::string_view id;
        if (sid.get_string().get(id) || !pusher::valid_socket_id(id)) {
            return {400, "\"socket_id\" must look like 1234.5678"};
        }
        out.socket_id = id;
    }
    std::string_view info;
    if (!obj["info"].get_string().get(info)) {
        out.info = info;
    }
    return {};
}

std::string publish_event(pusher::context& ctx, std::uint32_t app, const event_request& ev) {
    for (const std::string& channel : ev.channels) {
        net::frame_ref frame = pusher::channel_event(ev.name, channel, ev.data);
        if (pusher::is_cache(pusher::kind_of(channel))) {
            // Remembered by the channel's owner, even when nobody is subscribed right now.
            auto set = std::make_unique<pusher::cache_set_mail>();
            set->app = app;
            set->channel = channel;
            set->frame = frame;
            set->data = ev.data;
            ctx.io().post(ctx.owner_of(app, channel), std::move(set));
        }
        ctx.publish(app, channel, frame, pusher::parse_socket_id(ev.socket_id));
    }
    return "{}";
}

} // namespace ringcast::api
