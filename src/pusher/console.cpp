// The debug console's log of a shard and its part of the live view (see console.h).
#include "ringcast/pusher/console.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/json_writer.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/context.h"
#include "ringcast/pusher/session.h"

namespace ringcast::pusher {

namespace {

// More distinct origins than this on one shard is a scan or a misconfiguration; the rest share
// one entry rather than growing the table without bound.
constexpr std::size_t max_origins = 4096;
constexpr std::uint16_t too_many_origins = 1;
// Connections and channels listed per update (the counts stay exact).
constexpr std::size_t max_listed = 500;
constexpr std::size_t max_members_listed = 100;

constexpr std::string_view kind_names[] = {"connected",   "disconnected", "subscribed",  "unsubscribed",
                                           "auth_failed", "api_event",    "client_event"};

void field(std::string& out, std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    core::append_json_string(out, value);
}

void separate(std::string& list) {
    if (!list.empty()) {
        list += ',';
    }
}

} // namespace

console_log::console_log() : ring_(capacity), origins_{"", "(not recorded: too many origins)"} {}

void console_log::record(console_event ev) {
    ev.time_ms = core::unix_ms();
    ring_[next_ % capacity] = std::move(ev);
    ++next_;
}

void console_log::take(std::uint32_t app, std::uint64_t since, console_part& out) const {
    std::uint64_t oldest = next_ > capacity ? next_ - capacity : 0;
    if (since == from_now) {
        out.cursor = next_;
        return;
    }
    if (since < oldest) {
        out.dropped += oldest - since;
        since = oldest;
    }
    std::size_t taken = 0;
    std::uint64_t at = since;
    for (; at < next_ && taken < max_per_poll; ++at) {
        const console_event& ev = ring_[at % capacity];
        if (ev.app == app) {
            separate(out.events);
            append_console_event(out.events, ev);
            ++taken;
        }
    }
    out.cursor = at;
}

std::uint16_t console_log::intern_origin(std::string_view origin) {
    if (origin.empty()) {
        return 0;
    }
    if (auto it = origin_index_.find(std::string(origin)); it != origin_index_.end()) {
        return it->second;
    }
    if (origins_.size() >= max_origins) {
        return too_many_origins;
    }
    auto index = static_cast<std::uint16_t>(origins_.size());
    origins_.emplace_back(origin);
    origin_index_.emplace(origins_.back(), index);
    return index;
}

std::string_view console_log::origin(std::uint16_t index) const noexcept {
    return index < origins_.size() ? std::string_view(origins_[index]) : std::string_view();
}

bool console_log::cut(std::string& data) {
    if (data.size() <= max_data) {
        return false;
    }
    std::size_t end = max_data;
    // Back up over UTF-8 continuation bytes so the cut leaves valid text.
    while (end > 0 && (static_cast<unsigned char>(data[end]) & 0xc0) == 0x80) {
        --end;
    }
    data.resize(end);
    return true;
}

void append_console_event(std::string& out, const console_event& ev) {
    out += "{\"time\":";
    out += std::to_string(ev.time_ms);
    field(out, "kind", kind_names[static_cast<std::size_t>(ev.kind)]);
    if (ev.socket != 0) {
        field(out, "socket_id", format_socket_id(ev.socket));
    }
    if (!ev.channel.empty()) {
        field(out, "channel", ev.channel);
    }
    switch (ev.kind) {
    case console_kind::api_event:
    case console_kind::client_event:
        field(out, "event", ev.name);
        field(out, "data", ev.data);
        if (ev.truncated) {
            out += ",\"truncated\":true";
        }
        break;
    case console_kind::connected:
        field(out, "origin", ev.reason);
        break;
    case console_kind::disconnected:
        out += ",\"code\":" + std::to_string(ev.code);
        field(out, "reason", ev.reason);
        break;
    case console_kind::auth_failed:
        field(out, "reason", ev.reason);
        if (!ev.signed_text.empty()) {
            field(out, "signed", ev.signed_text);
        }
        break;
    case console_kind::subscribed:
    case console_kind::unsubscribed:
        break;
    }
    out += '}';
}

std::string_view console_channel_type(std::string_view channel) noexcept {
    channel_kind k = kind_of(channel);
    if (is_cache(k)) {
        return "cache";
    }
    switch (k) {
    case channel_kind::private_channel:
        return "private";
    case channel_kind::presence:
        return "presence";
    case channel_kind::private_encrypted:
        return "encrypted";
    case channel_kind::server_to_user:
        return "server-to-user";
    default:
        return "public";
    }
}

// ---- context: recording and answering polls --------------------------------------------

void context::console_record(console_event ev) {
    console_.record(std::move(ev));
}

void context::answer_console(const query_mail& q, console_part& out) {
    out.shard = io_.index();
    console_.take(q.app, q.since, out);
    out.connection_count = connections_[q.app];
    std::size_t listed = 0;
    for (const auto& [key, s] : by_socket_) {
        if (s->app() != q.app || listed == max_listed) {
            continue;
        }
        ++listed;
        separate(out.connections);
        out.connections += "{\"socket_id\":";
        core::append_json_string(out.connections, s->socket_id());
        field(out.connections, "origin", console_.origin(s->origin()));
        field(out.connections, "user_id", s->user_id());
        out.connections += ",\"channels\":[";
        for (std::size_t i = 0; i < s->subscriptions().size(); ++i) {
            out.connections += i == 0 ? "" : ",";
            core::append_json_string(out.connections, s->subscriptions()[i].channel->name);
        }
        out.connections += "],\"shard\":" + std::to_string(io_.index()) + '}';
    }
    std::vector<channel_summary> owned;
    owned_.list(q.app, {}, owned);
    for (std::size_t i = 0; i < owned.size() && i < max_listed; ++i) {
        append_console_channel(q.app, owned[i], out.channels);
    }
}

void context::append_console_channel(std::uint32_t app, const channel_summary& ch, std::string& out) {
    separate(out);
    out += "{\"name\":";
    core::append_json_string(out, ch.name);
    field(out, "type", console_channel_type(ch.name));
    out += ",\"subscriptions\":" + std::to_string(ch.subscriptions);
    if (is_presence(kind_of(ch.name))) {
        std::vector<std::string> members;
        owned_.member_ids(app, ch.name, members);
        out += ",\"members\":[";
        for (std::size_t m = 0; m < members.size() && m < max_members_listed; ++m) {
            out += m == 0 ? "" : ",";
            core::append_json_string(out, members[m]);
        }
        out += ']';
    }
    out += '}';
}

} // namespace ringcast::pusher
