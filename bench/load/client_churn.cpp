// Connection churn (soak): a worker's connections are slots that open on a paced schedule, go
// through the handshake and both subscriptions, stay for a while and close again, so the server
// keeps accepting, joining, leaving and freeing connections for the whole run.
#include "client_worker.h"

#include <algorithm>
#include <sys/socket.h>

namespace ringcast::bench {

std::uint64_t client_worker::churn(std::uint64_t now) {
    if (act_start_ns_ == 0) {
        act_start_ns_ = now;
    }
    bool busy = false;
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        connection& c = conns_[i];
        if (c.st == state::subscribed && now >= c.leave_at_ns) {
            ++result_.churn_completed;
            finish_churner(i);
        } else if (!c.established && c.st != state::idle && c.st != state::closing && c.st != state::closed &&
                   now - c.started_ns > config_.connect_timeout_ns) {
            fail(i, "timeout before subscription_succeeded");
            release(i);
        }
        busy = busy || (c.st != state::idle && c.st != state::closed);
    }
    if (control_.wind_down.load(std::memory_order_acquire)) {
        // No new connections; the ones still open finish their stay (or time out) first.
        if (!busy && !quiet_reported_) {
            quiet_reported_ = true;
            control_.quiet_workers.fetch_add(1, std::memory_order_acq_rel);
        }
        return idle_wait_ns;
    }
    const double rate = config_.peers.action_rate;
    if (rate <= 0) {
        return idle_wait_ns;
    }
    auto due = static_cast<std::uint64_t>(static_cast<double>(now - act_start_ns_) / 1e9 * rate) + 1;
    // Far behind (the machine was busy): drop the backlog instead of opening a burst.
    if (due > actions_due_done_ + 1) {
        result_.churn_skipped += due - 1 - actions_due_done_;
        actions_due_done_ = due - 1;
    }
    for (; actions_due_done_ < due; ++actions_due_done_) {
        auto slot = std::find_if(conns_.begin(), conns_.end(), [](const connection& c) {
            return c.st == state::idle || c.st == state::closed;
        });
        if (slot == conns_.end()) {
            ++result_.churn_skipped; // every slot is still busy: the bound on open connections holds
            continue;
        }
        *slot = connection{};
        open_one(static_cast<std::uint32_t>(slot - conns_.begin()), now);
    }
    auto next =
        act_start_ns_ + static_cast<std::uint64_t>(static_cast<double>(actions_due_done_) * 1e9 / rate);
    return next > now ? std::min(next - now, idle_wait_ns) : 0;
}

void client_worker::finish_churner(std::uint32_t index) {
    // Gone without a closing handshake, as when a browser tab is closed or a phone loses its
    // network: the server must free the connection and its memberships all the same.
    abandon(index);
    release(index); // closes now if nothing is pending, else after the last completion
}

} // namespace ringcast::bench
