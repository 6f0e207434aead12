// The webhook thread: inbox, outbox, one client per target, on its own ring (see dispatcher.h).
#include "ringcast/webhook/dispatcher.h"

#include "ringcast/core/clock.h"
#include "ringcast/core/crypto.h"
#include "ringcast/core/log.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

namespace ringcast::webhook {

namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
// Overflow is logged at most this often, so a flood does not become a log flood.
constexpr std::uint64_t report_interval_ms = 10'000;
// The wake-up read's completion tag; streams' tags are addresses with low bits set (net/stream.h).
constexpr std::uintptr_t wake_tag = 4;

std::uint64_t wall_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

// Each process jitters its retries differently, so nodes that failed together do not come back
// to a target in lockstep.
std::uint64_t random_seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

bool any_https(const config::server& s) {
    for (const config::app& a : s.apps) {
        for (const config::webhook_target& t : a.webhooks) {
            if (t.tls) {
                return true;
            }
        }
    }
    return false;
}

} // namespace

dispatcher::dispatcher(const config::server& initial)
    : settings_(initial.webhooks), next_config_(&initial), outbox_(initial.webhooks, random_seed()) {
    // Made even without https targets when a CA file is named, so a bad file is refused at start.
    if (any_https(initial) || !settings_.ca_file.empty()) {
        std::string error;
        tls_ = net::tls_context::create(false, settings_.ca_file, error);
        if (!tls_) {
            throw std::runtime_error("webhooks: " + error);
        }
    }
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        throw std::runtime_error(std::string("webhooks: eventfd: ") + std::strerror(errno));
    }
}

dispatcher::~dispatcher() {
    stop();
    ::close(wake_fd_);
}

void dispatcher::start() {
    thread_ = std::thread([this] { run(); });
}

void dispatcher::emit(event ev) {
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        if (inbox_.size() >= settings_.max_pending_events) {
            inbox_overflow_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        // A sleeping thread is woken by the first event only, and only when it would otherwise
        // sleep longer than a batch window; a flood wakes it early, long before the bound.
        wake = (inbox_.empty() && wake_on_emit_) || inbox_.size() == settings_.max_pending_events / 2;
        inbox_.push_back(std::move(ev));
    }
    if (wake) {
        std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }
}

void dispatcher::stop() {
    if (!thread_.joinable()) {
        return;
    }
    stopping_.store(true, std::memory_order_release);
    std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
}

void dispatcher::run() {
    core::set_log_shard(core::log_webhooks);
    // A name in /proc/PID/task/*/comm, top -H and perf, so the thread's CPU can be told apart
    // from the shards' (scripts/bench reads it to give the webhook cost per event).
    pthread_setname_np(pthread_self(), "ringcast-hooks");
    std::unique_ptr<net::ring> r;
    try {
        r = std::make_unique<net::ring>(256);
        post_wake_read(*r);
        loop(*r);
    } catch (const std::exception& e) {
        RC_LOG_ERROR("webhooks: %s; no more webhooks will be sent", e.what());
    }
    if (r) {
        drain(*r); // the clients' sockets are closed while their ring still exists
    }
}

void dispatcher::post_wake_read(net::ring& r) {
    io_uring_sqe* sqe = r.sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(wake_tag));
}

void dispatcher::take_inbox(std::uint64_t now_ms) {
    std::vector<event> batch;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        batch.swap(inbox_);
    }
    for (event& ev : batch) {
        outbox_.add(std::move(ev), now_ms);
    }
}

// long-function: the thread's whole cycle in one place reads better than split in pieces
void dispatcher::loop(net::ring& r) {
    while (true) {
        now_ms_ = core::monotonic_ms();
        if (const config::server* next = next_config_.load(std::memory_order_acquire); next != config_) {
            config_ = next;
            outbox_.set_config(next);
        }
        bool stopping = stopping_.load(std::memory_order_acquire);
        if (stopping && grace_end_ms_ == 0) {
            grace_end_ms_ = now_ms_ + settings_.shutdown_grace_ms;
        }
        take_inbox(now_ms_);
        outbox_.advance(now_ms_, wall_ms(), stopping);
        send_ready(r, now_ms_);
        for (auto& [q, c] : clients_) {
            c->check_deadline(now_ms_);
        }
        report_overflow(now_ms_);
        publish_stats();
        if (stopping && (outbox_.empty() || now_ms_ >= grace_end_ms_)) {
            break;
        }
        std::uint64_t wake = next_wake(now_ms_);
        std::uint64_t wait_ms = wake <= now_ms_ ? 0 : std::min<std::uint64_t>(wake - now_ms_, 1000);
        if (settings_.batch_window_ms > 0 && any_busy()) {
            // While a request is out the thread looks in every batch window anyway, so events
            // that come meanwhile (a slow target under churn) need no wake-up each.
            wait_ms = std::min<std::uint64_t>(wait_ms, settings_.batch_window_ms);
        }
        // An event needs the thread within a batch window, not at once: it waits that long in
        // the outbox anyway. When the thread wakes within one, emit() leaves it asleep; waking it
        // for each event cost a context switch per event on both sides, most of the thread's
        // time under churn. Events that came without a wake-up since take_inbox() are taken
        // after a look at the completions (a zero timeout) if the sleep would be longer.
        bool unseen = false;
        {
            std::lock_guard<std::mutex> lock(inbox_mutex_);
            wake_on_emit_ = wait_ms > settings_.batch_window_ms;
            unseen = wake_on_emit_ && !inbox_.empty();
        }
        if (unseen) {
            wait_ms = 0;
        }
        r.wait_and_handle(wait_ms, [&](std::uint64_t user_data, int res) {
            now_ms_ = core::monotonic_ms();
            handle(user_data, res, r);
        });
    }
    if (!outbox_.empty()) {
        RC_LOG_WARN("webhooks: stopping with events still unsent after the %u ms grace period; they are lost",
                    settings_.shutdown_grace_ms);
    }
}

void dispatcher::handle(std::uint64_t user_data, int res, net::ring& r) {
    auto tag = static_cast<std::uintptr_t>(user_data);
    if (tag == 0) {
        return; // a cancellation's own completion
    }
    if (tag == wake_tag) {
        post_wake_read(r);
        return;
    }
    if (net::stream::is_stream_tag(tag)) {
        net::stream::on_completion(reinterpret_cast<void*>(tag), res);
    }
}

bool dispatcher::any_busy() const {
    return std::any_of(clients_.begin(), clients_.end(),
                       [](const auto& entry) { return entry.second->busy(); });
}

std::uint64_t dispatcher::next_wake(std::uint64_t now_ms) const {
    std::uint64_t wake = outbox_.next_due();
    for (const auto& [q, c] : clients_) {
        wake = std::min(wake, c->deadline());
    }
    if (grace_end_ms_ != 0) {
        wake = std::min(wake, grace_end_ms_);
    }
    return wake == never ? now_ms + 1000 : wake;
}

std::string dispatcher::request_for(const target_queue& q) {
    const config::webhook_target& t = q.target;
    std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
    if (t.port != (t.tls ? 443 : 80)) {
        host += ':' + std::to_string(t.port);
    }
    std::string req =
        "POST " + t.request_target + " HTTP/1.1\r\nHost: " + host +
        "\r\nUser-Agent: ringcast-webhooks\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(q.body.size()) + "\r\n";
    for (const auto& [name, value] : t.headers) {
        req += name + ": " + value + "\r\n";
    }
    // Last, so nothing configured above can stand in for them.
    req += "X-Pusher-Key: " + q.app_key +
           "\r\nX-Pusher-Signature: " + core::hmac_sha256_hex(q.app_secret, q.body) + "\r\n\r\n";
    req += q.body;
    return req;
}

void dispatcher::send_ready(net::ring& r, std::uint64_t now_ms) {
    std::vector<target_queue*> due;
    outbox_.ready(now_ms, due);
    for (target_queue* q : due) {
        if (q->target.tls && !tls_) {
            std::string error;
            tls_ = net::tls_context::create(false, settings_.ca_file, error);
            if (!tls_) {
                on_answer(*q, 0, error);
                continue;
            }
        }
        std::unique_ptr<client>& c = clients_[q];
        if (!c) {
            c = std::make_unique<client>(
                q->target, tls_.get(),
                [this, q](int status, const std::string& error) { on_answer(*q, status, error); });
        }
        q->in_flight = true;
        ++q->attempt;
        c->start(r, request_for(*q), now_ms, settings_.connect_timeout_ms, settings_.request_timeout_ms);
    }
}

void dispatcher::on_answer(target_queue& q, int status, const std::string& error) {
    const char* url = q.target.url.c_str();
    if (status >= 200 && status < 300) {
        RC_LOG_DEBUG("webhook %s (app %s): %u event%s, attempt %u: HTTP %d", url, q.app_id.c_str(),
                     q.body_events, q.body_events == 1 ? "" : "s", q.attempt, status);
        outbox_.on_sent(q);
        return;
    }
    ++attempts_failed_;
    std::string why = status != 0 ? "HTTP " + std::to_string(status) : error;
    std::uint32_t events = q.body_events;
    std::uint32_t attempts = q.attempt;
    std::uint64_t since = now_ms_ - q.first_try_ms;
    if (outbox_.on_failed(q, now_ms_, why)) {
        RC_LOG_WARN("webhook %s (app %s): attempt %u failed (%s); retrying in %llu ms", url, q.app_id.c_str(),
                    attempts, why.c_str(), static_cast<unsigned long long>(q.next_try_ms - now_ms_));
    } else {
        RC_LOG_WARN("webhook %s (app %s): %u event%s dropped after %u attempts over %llu ms: %s", url,
                    q.app_id.c_str(), events, events == 1 ? "" : "s", attempts,
                    static_cast<unsigned long long>(since), why.c_str());
    }
}

void dispatcher::report_overflow(std::uint64_t now_ms) {
    if (now_ms < next_report_ms_) {
        return;
    }
    next_report_ms_ = now_ms + report_interval_ms;
    std::uint64_t total =
        inbox_overflow_.load(std::memory_order_relaxed) + outbox_.counters().events_overflow;
    if (total > overflow_reported_) {
        RC_LOG_WARN(
            "webhooks: %llu events dropped in the last %llu s because the queue was full (%u per app)",
            static_cast<unsigned long long>(total - overflow_reported_),
            static_cast<unsigned long long>(report_interval_ms / 1000), settings_.max_pending_events);
        overflow_reported_ = total;
    }
}

void dispatcher::publish_stats() {
    const outbox_counters& c = outbox_.counters();
    stats_.batches_sent.set(c.batches_sent);
    stats_.attempts_failed.set(attempts_failed_);
    stats_.retries.set(c.retries);
    stats_.batches_dropped.set(c.batches_dropped);
    stats_.events_sent.set(c.events_sent);
    stats_.events_dropped.set(c.events_dropped);
    stats_.events_overflow.set(c.events_overflow + inbox_overflow_.load(std::memory_order_relaxed));
}

void dispatcher::drain(net::ring& r) {
    // Close every connection and wait (briefly) for the kernel to hand back their buffers.
    clients_.clear();
    net::stream::drain(r, 1000);
}

} // namespace ringcast::webhook
