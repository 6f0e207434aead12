// What the shard's source files share and nobody else sees: tuning constants, the send
// block, and the handler-call guards of the exception rule (shard.h).
#pragma once

#include "ringcast/core/log.h"
#include "ringcast/shard/shard.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <exception>

namespace ringcast::shard {

namespace detail {
// Submission queue depth: enough for a burst of sends across many connections per iteration
// without forcing an early submit; the CQ is 4x this (see ring.cpp).
inline constexpr unsigned ring_entries = 4096;
// Receive buffers: 512 x 4 KiB = 2 MiB per shard, shared by all its connections (idle ones
// hold none). Client messages are small (pings, subscribes, whispers); a rare 10 KB one simply
// arrives in a few completions, which the incremental parsers take in stride. Smaller buffers
// keep the pages the ring cycles through, and so the server's resident memory, small.
inline constexpr unsigned recv_buffer_count = 512;
inline constexpr unsigned recv_buffer_size = 4 * 1024;

inline constexpr std::uint16_t recv_buffer_group = 0;
// Completions handled before the loop flushes mail and writes again. Each is one receive
// buffer (at most recv_buffer_size bytes of one connection's input) or one accept, send or
// timer, so a connection that floods the shard with input gets its bytes parsed in slices and
// everyone else's deliveries still leave between them, not after the whole flood.
inline constexpr unsigned max_cqes_per_iteration = 256;
// Frames per vectored send. Beyond ~64 the kernel's per-iovec cost dominates and a connection
// this far behind is better served by the next send.
inline constexpr unsigned max_iov = 64;
// Stopping: how long requests in progress get to finish before WebSockets are told to go.
// A publish takes milliseconds; this bounds a client that trickles its request in.
inline constexpr std::uint64_t finish_requests_ms = 2000;
// How long a graceful close waits for a peer that has stopped reading.
inline constexpr std::uint64_t close_grace_ms = 2000;
// How long a slow consumer gets to read its "over capacity" goodbye. Longer than the plain
// grace, because it may first have to read what the kernel already holds at its own pace; cheap,
// because by then the connection holds nothing but that goodbye.
inline constexpr std::uint64_t overload_grace_ms = 10'000;
// How far past its write budget a connection may queue while the kernel still accepts all we
// send it (see shard::send).
inline constexpr std::uint64_t burst_factor = 4;
// Out of descriptors: waiting clients answered 503 per accept completion, and how often the
// condition is logged (with the count) rather than once per failed accept.
inline constexpr unsigned max_shed_per_call = 256;
inline constexpr std::uint64_t shed_log_interval_ms = 10'000;
// TLS: plaintext encrypted per send (whole frames, so the queue never holds half a frame), and
// how often TLS failures are logged (with the count of those not shown).
inline constexpr std::uint64_t tls_batch_bytes = 64 * 1024;
inline constexpr std::uint64_t tls_failure_log_interval_ms = 1000;
} // namespace detail

struct shard::send_op {
    msghdr msg{};
    iovec iov[detail::max_iov];
    std::uint64_t bytes = 0;     // what this send offered the kernel
    bool session_output = false; // the TLS session's output, not the write queue's frames
    // Kernel TLS: the record type of a record OpenSSL made (TLS_SET_RECORD_TYPE).
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(1)]{};
};

template <typename Call> void shard::guarded(conn& c, const char* what, Call&& call) noexcept {
    try {
        call();
    } catch (const std::exception& e) {
        fail(c, what, e.what());
    } catch (...) {
        fail(c, what, "an exception that is not a std::exception");
    }
}

template <typename Call> void shard::guarded(const char* what, Call&& call) noexcept {
    try {
        call();
    } catch (const std::exception& e) {
        RC_LOG_ERROR("%s threw: %s; the shard carries on", what, e.what());
    } catch (...) {
        RC_LOG_ERROR("%s threw an exception that is not a std::exception; the shard carries on", what);
    }
}

} // namespace ringcast::shard
