// Connections: slots, write budgets, closes, per-connection timers, and the exception rule's
// "close only the connection that failed" (see shard.h).
#include "detail.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/log.h"
#include "ringcast/net/completion.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ringcast::shard {

using namespace detail;

void shard::fail(conn& c, const char* what, const char* why) noexcept {
    RC_LOG_ERROR("connection %u: %s threw: %s; closing that connection, the shard carries on", c.slot, what,
                 why);
    if (c.st != conn::state::open || c.failed) {
        return;
    }
    c.failed = true;
    if (c.state) {
        guarded("on_failure", [&] { c.state->on_failure(); });
    }
    close_gracefully(c);
}

// ---------------------------------------------------------------------------------------------
// Connections

conn& shard::allocate_conn(int fd) {
    conn* c;
    if (!free_slots_.empty()) {
        c = conns_[free_slots_.back()].get();
        free_slots_.pop_back();
    } else {
        conns_.push_back(std::make_unique<conn>());
        c = conns_.back().get();
        c->slot = static_cast<std::uint32_t>(conns_.size() - 1);
    }
    c->fd = fd;
    c->st = conn::state::open;
    c->sending = c->dirty = c->close_after_flush = c->write_shut = c->overloaded = c->close_reported = false;
    c->goodbye_due = false;
    c->kernel_full = false;
    c->failed = false;
    c->handshaking = false;
    c->tls.reset();
    c->in_flight = 0;
    c->timer_due_s = 0;
    c->force_close_ms = 0;
    c->state.reset();
    ++open_count_;
    return *c;
}

void shard::send(conn& c, net::frame_ref f) {
    if (c.st != conn::state::open || c.overloaded || c.close_after_flush) {
        return;
    }
    // The budget bounds what a peer that stopped reading can make us hold. Bytes queued while
    // the kernel still takes everything we offer are only waiting for this iteration's flush
    // (a burst of mail can queue more than the budget in one go for a reader that keeps up),
    // so they count only past a hard cap; once the kernel has refused part of a send, the
    // budget itself applies.
    std::uint64_t after = c.out.pending_bytes() + f->size();
    std::uint64_t budget = options_.max_pending_write_bytes;
    if (after > (c.kernel_full ? budget : burst_factor * budget)) {
        overload(c);
        return;
    }
    c.out.push(std::move(f));
    mark_dirty(c);
}

void shard::overload(conn& c) {
    // A slow consumer: tell it to come back later rather than grow without bound. The client
    // must actually read that, so what it has not been sent yet is dropped and the goodbye goes
    // next, not behind the backlog that caused it. While a send is in flight its iovecs point
    // into the queue, so the drop waits for its completion (on_send).
    RC_LOG_WARN("connection %u: %llu bytes unsent, closing as a slow consumer", c.slot,
                static_cast<unsigned long long>(c.out.pending_bytes()));
    c.overloaded = true;
    metrics_.slow_consumer_closes.add();
    if (c.sending) {
        c.goodbye_due = true;
    } else {
        say_overload_goodbye(c);
    }
    close_gracefully(c, overload_grace_ms);
}

void shard::say_overload_goodbye(conn& c) {
    c.goodbye_due = false;
    c.out.drop_unsent();
    if (options_.overload_frame) {
        c.out.push(options_.overload_frame);
    }
    mark_dirty(c);
}

void shard::mark_dirty(conn& c) {
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(&c);
    }
}

void shard::close_gracefully(conn& c) {
    close_gracefully(c, close_grace_ms);
}

void shard::close_gracefully(conn& c, std::uint64_t grace_ms) {
    if (c.st != conn::state::open || c.close_after_flush) {
        return;
    }
    c.close_after_flush = true;
    c.force_close_ms = now_ms_ + grace_ms;
    set_timer(c, c.force_close_ms);
    mark_dirty(c);
}

void shard::close(conn& c) {
    if (c.st != conn::state::open) {
        return;
    }
    c.st = conn::state::closing;
    --open_count_;
    metrics_.closed.add();
    if (std::exchange(c.finishing, false)) {
        --finishing_count_;
    }
    end_handshake(c);
    // shutdown() ends the multishot recv (it completes with 0) and fails an in-flight send, so
    // every outstanding operation completes promptly; the fd itself is closed only when the
    // last of them has, so a completion never refers to a recycled descriptor. A peer that
    // closed first has usually ended the recv already: then nothing is outstanding and the
    // syscall would only fail with ENOTCONN.
    if (c.in_flight != 0) {
        ::shutdown(c.fd, SHUT_RDWR);
    }
    closing_.push_back(&c);
}

void shard::finish_closes() {
    // Runs after each completion batch, outside any handler call: on_closed and the states'
    // destructors may free the session whose code asked for the close.
    retired_.clear();
    for (size_t i = 0; i < closing_.size(); ++i) {
        conn& c = *closing_[i];
        if (!c.close_reported) {
            c.close_reported = true;
            if (c.state) {
                guarded("on_closed", [&] { c.state->on_closed(); });
                c.state.reset();
            }
        }
        if (!c.sending) {
            c.out.clear();
        }
        if (c.in_flight == 0) {
            release_slot(c);
            closing_[i] = closing_.back();
            closing_.pop_back();
            --i;
        }
    }
}

void shard::replace_state(conn& c, std::unique_ptr<conn_state> next) {
    // A request that finished as a WebSocket upgrade: the session waits for the goodbye.
    if (std::exchange(c.finishing, false)) {
        --finishing_count_;
    }
    retired_.push_back(std::move(c.state));
    c.state = std::move(next);
}

void shard::release_slot(conn& c) {
    ::close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.tls.reset(); // after the last send: an in-flight one pointed into its output
    c.st = conn::state::free;
    c.generation = (c.generation + 1) & net::generation_mask;
    free_slots_.push_back(c.slot);
}

void shard::set_timer(conn& c, std::uint64_t due_ms) {
    auto due_s = static_cast<std::uint32_t>((due_ms + 999) / 1000);
    if (due_s <= wheel_now_s_) {
        due_s = wheel_now_s_ + 1;
    }
    if (c.timer_due_s != 0 && c.timer_due_s <= due_s) {
        return; // an earlier expiry is already queued; the handler re-arms from there
    }
    c.timer_due_s = due_s;
    wheel_[due_s % wheel_size].push_back({c.slot, c.generation, due_s});
}

void shard::on_tick() {
    auto now_s = static_cast<std::uint32_t>(now_ms_ / 1000);
    while (wheel_now_s_ < now_s) {
        ++wheel_now_s_;
        std::vector<wheel_entry> due;
        due.swap(wheel_[wheel_now_s_ % wheel_size]);
        for (const wheel_entry& e : due) {
            if (e.due_s > wheel_now_s_) {
                wheel_[e.due_s % wheel_size].push_back(e); // lapped: not yet
                continue;
            }
            conn* c = e.slot < conns_.size() ? conns_[e.slot].get() : nullptr;
            if (c == nullptr || c->generation != e.generation || c->st != conn::state::open ||
                c->timer_due_s != e.due_s) {
                continue; // stale entry: the conn is gone or was re-queued earlier
            }
            c->timer_due_s = 0;
            if (c->close_after_flush && now_ms_ >= c->force_close_ms) {
                close(*c); // the peer stopped reading our goodbye
            } else if (c->close_after_flush) {
                set_timer(*c, c->force_close_ms);
            } else if (!c->failed && c->state) {
                guarded(*c, "on_timer", [&] { c->state->on_timer(); });
            }
        }
    }
    for (unsigned i = 0; i < listeners_.size() && !stopping_; ++i) {
        if (!accepting_[i]) {
            arm_accept(i);
        }
    }
    guarded("on_tick", [&] { handler_->on_tick(); });
}

} // namespace ringcast::shard
