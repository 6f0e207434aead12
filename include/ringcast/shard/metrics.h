// What a shard counts of its own work (connections, bytes, sends, slow consumers, mail it could
// not queue yet), read by the metrics scrape on another thread (core/metrics.h says how).
#pragma once

#include "ringcast/core/metrics.h"

#include <atomic>
#include <ctime>

namespace ringcast::shard {

struct io_metrics {
    core::counter accepted;             // connections opened, on every listener
    core::counter closed;               // connections closed (accepted - closed are open)
    core::counter bytes_received;       // from sockets, before TLS decryption
    core::counter bytes_sent;           // to sockets, after TLS encryption
    core::counter sends;                // send operations submitted (one per connection per flush)
    core::counter slow_consumer_closes; // connections closed for being over their write budget
    core::counter mail_spilled;         // gauge: mail waiting for room in a full queue
    core::counter tls_handshakes;       // TLS handshakes completed
    core::counter tls_failures;         // TLS sessions ended by an error (handshake or later)
    core::counter tls_refused;          // TLS connections closed at accept: too many handshakes at once
    core::counter tls_kernel;           // TLS connections whose sending the kernel took over (kTLS)
    core::counter tls_kernel_fallbacks; // ... that could have, but stayed in user space
    // The shard thread's CPU clock (pthread_getcpuclockid), for its utilisation; -1 until it runs.
    std::atomic<clockid_t> cpu_clock{-1};
};

} // namespace ringcast::shard
