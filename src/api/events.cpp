// The events endpoint: limits and messages follow hosted Pusher (spec section 2).
#include "ringcast/api/events.h"
#include "ringcast/core/json.h"

#include "ringcast/net/frame.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/messages.h"
#include "ringcast/pusher/socket_id.h"

#include <utility>

namespace ringcast::api {

namespace {
core::status bad_request(std::string message) {
    return core::failure(std::move(message), 400);
}

core::status add_channel(std::string_view name, const config::app& app, event_request& out) {
    if (core::status valid = pusher::check_channel_name(name, app.max_channel_name_length); !valid) {
        return bad_request(valid.message());
    }
    out.channels.emplace_back(name);
    return core::ok();
}
} // namespace

core::result<event_request> parse_event(simdjson::dom::parser& json, std::string_view body,
                                        const config::app& app) {
    simdjson::dom::element root;
    if (auto err = core::parse_json(json, body).get(root)) {
        return bad_request(std::string("Request body is not valid JSON: ") + simdjson::error_message(err));
    }
    simdjson::dom::object obj;
    if (root.get_object().get(obj)) {
        return bad_request("Request body must be a JSON object with name, data and channels");
    }
    return parse_event_fields(obj, app);
}

core::result<std::vector<event_request>> parse_batch(simdjson::dom::parser& json, std::string_view body,
                                                     const config::app& app) {
    simdjson::dom::element root;
    if (auto err = core::parse_json(json, body).get(root)) {
        return bad_request(std::string("Request body is not valid JSON: ") + simdjson::error_message(err));
    }
    simdjson::dom::array batch;
    if (root["batch"].get_array().get(batch)) {
        return bad_request("Request body must be {\"batch\": [events]}");
    }
    if (batch.size() > app.max_batch_size) {
        return bad_request("A batch can hold at most " + std::to_string(app.max_batch_size) +
                           " events; this one has " + std::to_string(batch.size()));
    }
    std::vector<event_request> out;
    for (simdjson::dom::element e : batch) {
        std::string where = "batch[" + std::to_string(out.size()) + "]: ";
        simdjson::dom::object obj;
        if (e.get_object().get(obj)) {
            return bad_request(where + "must be an event object");
        }
        auto ev = parse_event_fields(obj, app);
        if (!ev) {
            return core::failure(where + ev.error().message(), ev.error().code());
        }
        out.push_back(std::move(*ev));
    }
    return out;
}

core::result<event_request> parse_event_fields(simdjson::dom::object obj, const config::app& app) {
    event_request out;
    std::string_view name;
    if (obj["name"].get_string().get(name) || name.empty()) {
        return bad_request("\"name\" (the event name, a non-empty string) is required");
    }
    if (name.size() > app.max_event_name_length) {
        return bad_request("Event name is " + std::to_string(name.size()) +
                           " characters long; the limit is " + std::to_string(app.max_event_name_length));
    }
    out.name = name;

    simdjson::dom::element data;
    if (obj["data"].get(data)) {
        return bad_request("\"data\" (the event payload, a string) is required");
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
        return core::failure("Event data is " + std::to_string(out.data.size()) + " bytes; the limit is " +
                                 std::to_string(app.max_event_payload_bytes) + " bytes",
                             413);
    }

    simdjson::dom::element channels;
    std::string_view single;
    if (!obj["channels"].get(channels)) {
        simdjson::dom::array list;
        if (channels.get_array().get(list)) {
            return bad_request("\"channels\" must be an array of channel names");
        }
        for (simdjson::dom::element c : list) {
            std::string_view ch;
            if (c.get_string().get(ch)) {
                return bad_request("\"channels\" must contain only strings");
            }
            if (out.channels.size() >= app.max_event_channels) {
                return bad_request("An event can be published to at most " +
                                   std::to_string(app.max_event_channels) + " channels at once");
            }
            if (auto added = add_channel(ch, app, out); !added) {
                return added;
            }
        }
    } else if (!obj["channel"].get_string().get(single)) {
        if (auto added = add_channel(single, app, out); !added) {
            return added;
        }
    }
    if (out.channels.empty()) {
        return bad_request("\"channels\" (an array) or \"channel\" (a string) is required");
    }

    simdjson::dom::element sid;
    if (!obj["socket_id"].get(sid) && !sid.is_null()) {
        std::string_view id;
        if (sid.get_string().get(id) || !pusher::valid_socket_id(id)) {
            return bad_request("\"socket_id\" must look like 1234.5678");
        }
        out.socket_id = id;
    }
    std::string_view info;
    if (!obj["info"].get_string().get(info)) {
        out.info = info;
    }
    return out;
}

namespace {
void show_in_console(pusher::context& ctx, std::uint32_t app, const event_request& ev,
                     const std::string& channel) {
    pusher::console_event shown{.kind = pusher::console_kind::api_event,
                                .app = app,
                                .socket = pusher::parse_socket_id(ev.socket_id),
                                .channel = channel,
                                .name = ev.name,
                                .data = ev.data};
    shown.truncated = pusher::console_log::cut(shown.data);
    ctx.console_record(std::move(shown));
}
} // namespace

unsigned publish(pusher::context& ctx, std::uint32_t app, const std::vector<event_request>& events,
                 std::uint64_t ack_id) {
    unsigned shared = 0;
    for (const event_request& ev : events) {
        for (const std::string& channel : ev.channels) {
            net::frame_ref frame = pusher::channel_event(ev.name, channel, ev.data);
            if (pusher::is_cache(pusher::kind_of(channel))) {
                // Remembered by the channel's owner, even when nobody is subscribed right now.
                ctx.remember_last_event(app, channel, frame, ev.data);
            }
            shared +=
                ctx.broadcast(app, channel, frame, pusher::parse_socket_id(ev.socket_id), ack_id) ? 1 : 0;
            if (ctx.console_watching(app)) {
                show_in_console(ctx, app, ev, channel);
            }
        }
    }
    return shared;
}

} // namespace ringcast::api
