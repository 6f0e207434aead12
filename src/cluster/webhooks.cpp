// The cluster's webhooks: the shared-state scripts decide each transition once (a channel
// occupied or vacated, a member added or removed, a count changed) and announce it; the node
// that sends the app's webhooks (scripts.h) turns each announcement into a webhook event.
#include "ringcast/cluster/bridge.h"

#include "ringcast/core/log.h"
#include "ringcast/pusher/channel_name.h"

#include <charconv>
#include <optional>

namespace ringcast::cluster {

namespace {

// A script's webhook event: "kind\napp\nchannel\nuser".
struct script_event {
    char kind = 0;
    std::string_view app, channel, user;
};

bool parse_event(std::string_view text, script_event& out) {
    if (text.size() < 2 || text[1] != '\n') {
        return false;
    }
    out.kind = text[0];
    std::string_view rest = text.substr(2);
    std::size_t a = rest.find('\n');
    if (a == std::string_view::npos) {
        return false;
    }
    out.app = rest.substr(0, a);
    rest.remove_prefix(a + 1);
    std::size_t c = rest.find('\n');
    if (c == std::string_view::npos) {
        return false;
    }
    out.channel = rest.substr(0, c);
    out.user = rest.substr(c + 1);
    return true;
}

// The scripts' one-letter event kinds.
std::optional<config::webhook_kind> kind_of(char letter) {
    switch (letter) {
    case 'o':
        return config::webhook_kind::channel_occupied;
    case 'v':
        return config::webhook_kind::channel_vacated;
    case 'a':
        return config::webhook_kind::member_added;
    case 'r':
        return config::webhook_kind::member_removed;
    case 'n':
        return config::webhook_kind::subscription_count;
    default:
        return std::nullopt;
    }
}

} // namespace

void bridge::emit_webhooks(const redis::value& events) {
    for (const redis::value& text : events.elements) {
        if (text.is_string()) {
            emit_webhook(text.text);
        }
    }
}

void bridge::emit_webhook(std::string_view text) {
    script_event e;
    if (!parse_event(text, e)) {
        return;
    }
    if (e.kind == 'd') {
        if (e.app != node_id_) {
            RC_LOG_WARN("Redis bridge: node %.*s stopped renewing its lease; its members, counts and "
                        "connections are removed",
                        static_cast<int>(e.app.size()), e.app.data());
        }
        return;
    }
    int app = webhooks_ == nullptr ? -1 : app_index(e.app);
    if (app < 0) {
        return;
    }
    std::optional<config::webhook_kind> kind = kind_of(e.kind);
    if (!kind) {
        return;
    }
    webhook::event ev;
    ev.kind = *kind;
    if (!config_->apps[static_cast<std::size_t>(app)].wants_webhook(ev.kind) ||
        (ev.kind == config::webhook_kind::subscription_count &&
         pusher::is_presence(pusher::kind_of(e.channel)))) {
        return;
    }
    ev.app = static_cast<std::uint32_t>(app);
    ev.channel = std::string(e.channel);
    if (ev.kind == config::webhook_kind::subscription_count) {
        std::from_chars(e.user.data(), e.user.data() + e.user.size(), ev.subscription_count);
    } else {
        ev.user_id = std::string(e.user);
    }
    ev.settled = true;
    webhooks_->emit(std::move(ev));
}

} // namespace ringcast::cluster
