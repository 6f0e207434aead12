// What `presence` and `whisper` connections do besides receiving: the paced schedule of joins,
// leaves and client events, the observers' tally of member events, and the end-of-run check of
// what every connection saw against what its peers did.
#include "client_worker.h"

#include "client_requests.h"
#include "clock.h"

#include <algorithm>

namespace ringcast::bench {

namespace {

// When the loop falls this far behind its schedule (in whole rounds over the actors), it drops
// the backlog instead of sending it in a burst: a burst would break the per-connection
// client-event limit the rate was chosen to respect.
constexpr std::uint64_t max_backlog_rounds = 1;

} // namespace

std::uint64_t client_worker::act(std::uint64_t now) {
    if (config_.peers.mode == peer_mode::none || !control_.go.load(std::memory_order_acquire)) {
        return idle_wait_ns;
    }
    if (config_.peers.mode == peer_mode::churn) {
        return churn(now);
    }
    if (act_start_ns_ == 0) {
        act_start_ns_ = now;
        for (std::uint32_t i = 0; i < conns_.size(); ++i) {
            if (conns_[i].established && (config_.peers.mode == peer_mode::whisper || !is_observer(i))) {
                actors_.push_back(i);
            }
        }
    }
    if (control_.wind_down.load(std::memory_order_acquire)) {
        if (!wound_down_) {
            wound_down_ = true;
            for (std::uint32_t i : actors_) {
                if (conns_[i].member == member_state::in) {
                    leave(i);
                }
            }
        }
        if (!quiet_reported_ && joining_ == 0) {
            // What the last leaves owe must be visible before the drain may see this worker quiet.
            flush_owed();
            quiet_reported_ = true;
            control_.quiet_workers.fetch_add(1, std::memory_order_acq_rel);
        }
        return idle_wait_ns;
    }
    if (actors_.empty() || config_.peers.action_rate <= 0) {
        return idle_wait_ns;
    }
    const double rate = config_.peers.action_rate * static_cast<double>(actors_.size());
    auto due = static_cast<std::uint64_t>(static_cast<double>(now - act_start_ns_) / 1e9 * rate) + 1;
    std::uint64_t backlog = max_backlog_rounds * actors_.size();
    if (due > actions_due_done_ + backlog) {
        result_.skipped_actions += due - backlog - actions_due_done_;
        actions_due_done_ = due - backlog;
    }
    for (; actions_due_done_ < due; ++actions_due_done_) {
        act_one(actors_[actions_due_done_ % actors_.size()]);
    }
    auto next =
        act_start_ns_ + static_cast<std::uint64_t>(static_cast<double>(actions_due_done_) * 1e9 / rate);
    return next > now ? std::min(next - now, idle_wait_ns) : 0;
}

void client_worker::act_one(std::uint32_t index) {
    connection& c = conns_[index];
    if (c.st != state::subscribed) {
        ++result_.skipped_actions;
        return;
    }
    if (config_.peers.mode == peer_mode::presence) {
        if (c.member == member_state::out) {
            join(index);
        } else if (c.member == member_state::in) {
            leave(index);
        } else {
            ++result_.skipped_actions; // the last join is not answered yet
        }
        return;
    }
    const layout& channels = config_.channels;
    std::uint64_t seq =
        static_cast<std::uint64_t>(c.peer.sent) * channels.per_event + channels.slot_of(global(index));
    if (seq >= config_.max_events) {
        ++result_.skipped_actions; // past what the receivers' bitmaps can track
        return;
    }
    queue_text(c, client_event_message(channels.channel_of(global(index)), seq, now_ns()));
    ++c.peer.sent;
    ++result_.actions;
    // Every other established member of the group must receive it.
    std::uint64_t members = control_.peers_per_group[c.group];
    pending_owed_ += members > 0 ? members - 1 : 0;
}

void client_worker::join(std::uint32_t index) {
    connection& c = conns_[index];
    std::string member = presence_member("u" + std::to_string(global(index)), c.peer.sent, now_ns());
    queue_text(c, subscribe_message(*config_.server, c.socket_id, config_.channels.channel_of(global(index)),
                                    true, member));
    c.member = member_state::joining;
    ++joining_;
    ++result_.actions;
}

void client_worker::leave(std::uint32_t index) {
    connection& c = conns_[index];
    queue_text(c, unsubscribe_message(config_.channels.channel_of(global(index))));
    c.member = member_state::out;
    ++c.peer.left;
    ++result_.actions;
    pending_owed_ += control_.peers_per_group[c.group]; // one member_removed per observer
}

void client_worker::on_presence_message(std::uint32_t index, std::string_view payload) {
    connection& c = conns_[index];
    std::string_view name = event_name(payload);
    if (name == "pusher_internal:member_added" || name == "pusher_internal:member_removed") {
        if (is_observer(index)) {
            on_member_event(index, payload, name == "pusher_internal:member_added");
        } else {
            ++result_.other_messages; // churners see each other come and go; only observers count
        }
        return;
    }
    if (c.member != member_state::joining) {
        on_control(c, payload);
        return;
    }
    if (name == "pusher_internal:subscription_succeeded") {
        c.member = member_state::in;
        --joining_;
        ++c.peer.sent;
        pending_owed_ += control_.peers_per_group[c.group]; // one member_added per observer
        check_presence(index, payload);
        if (wound_down_) {
            leave(index); // the run is over: leave as soon as the join is through
        }
    } else if (name == "pusher:subscription_error" || name == "pusher:error") {
        c.member = member_state::out;
        --joining_;
        ++result_.joins_refused;
        if (result_.pusher_errors++ == 0) {
            result_.first_pusher_error.assign(payload.substr(0, 200));
        }
    } else {
        on_control(c, payload);
    }
}

void client_worker::on_member_event(std::uint32_t index, std::string_view payload, bool added) {
    char kind = 0;
    std::uint32_t user = 0;
    const layout& channels = config_.channels;
    if (!find_user(payload, kind, user) || kind != 'u') {
        ++result_.other_messages; // observers joining during the ramp
        return;
    }
    if (user >= channels.connections || channels.group_of_connection(user) != conns_[index].group) {
        ++result_.unexpected;
        return;
    }
    member_tally& t = tallies_[static_cast<std::size_t>(index) * channels.per_event + channels.slot_of(user)];
    if (t.present == added) {
        ++result_.duplicates; // added twice without a removal in between, or removed twice
        return;
    }
    t.present = added;
    if (added) {
        ++t.added;
        ++result_.member_added;
        stamp s;
        if (find_stamp(payload, s)) {
            record_delivery(s.t_ns); // join sent -> member_added seen
            return;
        }
    } else {
        ++t.removed;
        ++result_.member_removed;
    }
    // member_removed carries no stamp: counted, not timed.
    ++result_.deliveries;
    ++pending_delivered_;
    result_.last_delivery_ns = now_ns_;
}

void client_worker::check_presence(std::uint32_t index, std::string_view payload) {
    std::string own = (is_observer(index) ? "o" : "u") + std::to_string(global(index));
    presence_summary p;
    ++result_.presence_checked;
    // Sane: the member itself is listed, the count matches the ids, and it fits in the group.
    bool sane = read_presence(payload, own, p) && p.has_self && p.count == p.listed && p.count >= 1 &&
                p.count <= config_.channels.per_event;
    if (!sane && result_.presence_not_sane++ == 0) {
        result_.first_presence_problem.assign(payload.substr(0, 300));
    }
}

void client_worker::add_peers_per_group(std::vector<std::uint64_t>& per_group) const {
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].established && (config_.peers.mode == peer_mode::whisper || is_observer(i))) {
            ++per_group[conns_[i].group];
        }
    }
}

void client_worker::add_peer_counts(std::vector<peer_count>& by_connection) const {
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        by_connection[global(i)] = conns_[i].peer;
    }
}

void client_worker::count_peer_deliveries(const std::vector<peer_count>& by_connection, std::uint64_t& lost,
                                          std::uint64_t& duplicated) const {
    const layout& channels = config_.channels;
    const std::uint32_t size = channels.per_event;
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        const connection& c = conns_[i];
        if (!c.established || (config_.peers.mode == peer_mode::presence && !is_observer(i))) {
            continue;
        }
        const std::uint32_t first = c.group * size;
        const std::uint32_t own = channels.slot_of(global(i));
        for (std::uint32_t slot = 0; slot < size && first + slot < channels.connections; ++slot) {
            const peer_count& peer = by_connection[first + slot];
            if (config_.peers.mode == peer_mode::presence) {
                if (slot < config_.peers.observers) {
                    continue; // observers stay: only churners' joins and leaves are checked
                }
                const member_tally& t = tallies_[static_cast<std::size_t>(i) * size + slot];
                lost += (peer.sent > t.added ? peer.sent - t.added : 0) +
                        (peer.left > t.removed ? peer.left - t.removed : 0);
                duplicated += (t.added > peer.sent ? t.added - peer.sent : 0) +
                              (t.removed > peer.left ? t.removed - peer.left : 0);
                continue;
            }
            if (slot == own) {
                continue;
            }
            const std::uint64_t* bits = bits_.data() + i * words_per_connection_;
            for (std::uint64_t k = 0; k < peer.sent; ++k) {
                std::uint64_t seq = k * size + slot;
                if (seq < config_.max_events && (bits[seq / 64] & (1ULL << (seq % 64))) == 0) {
                    ++lost;
                }
            }
        }
    }
}

} // namespace ringcast::bench
