// The debug console across nodes (bridge.h): who watches which app, this node's part for the
// watching nodes, and the other nodes' parts for the pages open here.
#include "ringcast/cluster/bridge.h"

#include "envelope.h"
#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"

#include <charconv>

namespace ringcast::cluster {

namespace {

// A node says it watches an app every watch_every_ms; the others keep sending their part for
// watch_for_ms after the last time they heard it, and a part older than that is not shown (its
// node stopped, or stopped hearing us).
constexpr std::uint64_t watch_every_ms = 1000;
constexpr std::uint64_t watch_for_ms = 3000;
constexpr std::uint64_t poll_every_ms = 1000;
// Other nodes' event batches kept for the pages here (one batch per node per second).
constexpr std::size_t max_batches = 64;
// Ids of the bridge's own console polls: the app index above this base.
constexpr std::uint64_t poll_id_base = std::uint64_t{1} << 62;

std::size_t events_in(std::string_view items) {
    std::size_t n = 0;
    for (auto at = items.find("{\"time\":"); at != std::string_view::npos;
         at = items.find("{\"time\":", at + 1)) {
        ++n;
    }
    return n;
}

void append_items(std::string& list, std::string_view items) {
    if (!items.empty()) {
        list += list.empty() ? "" : ",";
        list += items;
    }
}

bool read_number(std::string_view& text, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc{} || end == text.data() + text.size() || (*end != ' ' && *end != '\n')) {
        return false;
    }
    text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
    return true;
}

} // namespace

void bridge::on_console_query(pusher::query_mail& q) {
    std::uint64_t now = core::monotonic_ms();
    console_state& st = console_[q.app];
    st.watched_here_until = now + watch_for_ms;
    auto reply = std::make_unique<pusher::query_reply_mail>();
    reply->id = q.id;
    reply->console = std::make_unique<pusher::console_part>();
    pusher::console_part& part = *reply->console;
    part.shard = group_.count(); // the slot after the shards: the other nodes
    for (const auto& [node, r] : st.remote) {
        if (r.at_ms + watch_for_ms > now) {
            append_items(part.connections, r.connections);
            append_items(part.channels, r.channels);
            part.connection_count += r.connection_count;
        }
    }
    std::uint64_t since = q.since == pusher::console_log::from_now ? st.next_seq : q.since;
    std::uint64_t oldest = st.events.empty() ? st.next_seq : st.events.front().first;
    part.dropped = since < oldest ? st.dropped : 0;
    for (const auto& [seq, items] : st.events) {
        if (seq >= since) {
            append_items(part.events, items);
        }
    }
    part.cursor = st.next_seq;
    post(q.reply_to, std::move(reply));
    if (now >= st.watch_sent_ms + watch_every_ms) {
        tick_console(now); // the first poll of a page: tell the others at once
    }
}

void bridge::on_console_watch(std::uint32_t app, std::string_view node) {
    console_state& st = console_[app];
    auto it = st.watchers.find(node);
    if (it == st.watchers.end()) {
        RC_LOG_INFO("Redis bridge: a debug console on node %.*s watches app %s",
                    static_cast<int>(node.size()), node.data(), config_->apps[app].id.c_str());
        it = st.watchers.emplace(std::string(node), 0).first;
    }
    it->second = core::monotonic_ms() + watch_for_ms;
}

void bridge::tick_console(std::uint64_t now_ms) {
    for (auto& [app, st] : console_) {
        if (app >= config_->apps.size()) {
            continue;
        }
        if (st.watched_here_until > now_ms && now_ms >= st.watch_sent_ms + watch_every_ms && pub_up_) {
            st.watch_sent_ms = now_ms;
            pub_->command(
                {"PUBLISH", channel_,
                 envelope(node_id_, 0, config_->apps[app].id, std::string(console_channel), 0, "watch")});
        }
        std::erase_if(st.watchers, [&](const auto& w) { return w.second <= now_ms; });
        bool watched = !st.watchers.empty();
        if (watched != st.counted) {
            // The shards record the app's events only while someone watches (pusher/console.h).
            counters_.app(app).console_watchers.fetch_add(watched ? 1 : -1u, std::memory_order_relaxed);
            st.counted = watched;
            st.cursors.assign(group_.count(), pusher::console_log::from_now);
        }
        if (watched && !st.polling && now_ms >= st.polled_ms + poll_every_ms) {
            st.polled_ms = now_ms;
            poll_console_shards(app, st);
        }
    }
}

void bridge::poll_console_shards(std::uint32_t app, console_state& st) {
    st.polling = true;
    st.awaiting = group_.count();
    st.gathered = {};
    for (unsigned t = 0; t < group_.count(); ++t) {
        auto q = std::make_unique<pusher::query_mail>();
        q->id = poll_id_base + app;
        q->reply_to = group_.count();
        q->kind = pusher::query_kind::console;
        q->app = app;
        q->since = st.cursors[t];
        post(t, std::move(q));
    }
}

void bridge::on_query_reply(pusher::query_reply_mail& m) {
    if (m.id < poll_id_base || !m.console) {
        return; // terminate_user's answers: nothing to do with them
    }
    auto it = console_.find(static_cast<std::uint32_t>(m.id - poll_id_base));
    if (it == console_.end() || !it->second.polling) {
        return;
    }
    console_state& st = it->second;
    pusher::console_part& p = *m.console;
    append_items(st.gathered.connections, p.connections);
    append_items(st.gathered.channels, p.channels);
    append_items(st.gathered.events, p.events);
    st.gathered.connection_count += p.connection_count;
    st.gathered.dropped += p.dropped;
    if (p.shard < st.cursors.size()) {
        st.cursors[p.shard] = p.cursor;
    }
    if (--st.awaiting == 0) {
        st.polling = false;
        send_console_part(it->first, st);
    }
}

void bridge::send_console_part(std::uint32_t app, console_state& st) {
    const pusher::console_part& g = st.gathered;
    const std::string& app_id = config_->apps[app].id;
    std::string head = "rcc " + std::to_string(node_id_.size()) + ' ' + std::to_string(app_id.size()) + ' ' +
                       std::to_string(g.connection_count) + ' ' + std::to_string(g.dropped) + ' ' +
                       std::to_string(g.connections.size()) + ' ' + std::to_string(g.channels.size()) + '\n';
    std::string body = head + node_id_ + app_id + g.connections + g.channels + g.events;
    for (const auto& [node, until] : st.watchers) {
        pub_->command({"PUBLISH", settings_.prefix + ":node:" + node, body});
    }
}

void bridge::on_console_part(std::string_view text) {
    text.remove_prefix(4);
    std::uint64_t node_len = 0, app_len = 0, count = 0, dropped = 0, conn_len = 0, chan_len = 0;
    if (!read_number(text, node_len) || !read_number(text, app_len) || !read_number(text, count) ||
        !read_number(text, dropped) || !read_number(text, conn_len) || !read_number(text, chan_len) ||
        node_len + app_len + conn_len + chan_len > text.size()) {
        return;
    }
    std::string_view node = text.substr(0, node_len);
    int app = app_index(text.substr(node_len, app_len));
    if (app < 0) {
        return;
    }
    text.remove_prefix(node_len + app_len);
    console_state& st = console_[static_cast<std::uint32_t>(app)];
    remote_part& r = st.remote[std::string(node)];
    r.connections = std::string(text.substr(0, conn_len));
    r.channels = std::string(text.substr(conn_len, chan_len));
    r.connection_count = count;
    r.at_ms = core::monotonic_ms();
    st.dropped += dropped;
    std::string_view events = text.substr(conn_len + chan_len);
    if (!events.empty()) {
        st.events.emplace_back(st.next_seq++, std::string(events));
        if (st.events.size() > max_batches) {
            st.dropped += events_in(st.events.front().second);
            st.events.pop_front();
        }
    }
}

} // namespace ringcast::cluster
