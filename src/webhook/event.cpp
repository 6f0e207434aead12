// Pusher's webhook event objects (pusher-compat-spec §3.1: which fields each name carries).
#include "ringcast/webhook/event.h"

#include "ringcast/core/json_writer.h"

namespace ringcast::webhook {

void append_json(std::string& out, const event& ev) {
    using config::webhook_kind;
    out += "{\"name\":";
    core::append_json_string(out, config::webhook_kind_name(ev.kind));
    out += ",\"channel\":";
    core::append_json_string(out, ev.channel);
    switch (ev.kind) {
    case webhook_kind::member_added:
    case webhook_kind::member_removed:
        out += ",\"user_id\":";
        core::append_json_string(out, ev.user_id);
        break;
    case webhook_kind::client_event:
        out += ",\"event\":";
        core::append_json_string(out, ev.name);
        out += ",\"data\":";
        core::append_json_string(out, ev.data);
        out += ",\"socket_id\":";
        core::append_json_string(out, ev.socket_id);
        if (!ev.user_id.empty()) {
            out += ",\"user_id\":";
            core::append_json_string(out, ev.user_id);
        }
        break;
    case webhook_kind::subscription_count:
        out += ",\"subscription_count\":";
        out += std::to_string(ev.subscription_count);
        break;
    default:
        break;
    }
    out += '}';
}

} // namespace ringcast::webhook
