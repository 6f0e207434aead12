// io_uring set-up and the start-up feature probe.
#include "ringcast/net/ring.h"

#include <sys/utsname.h>

#include <cstring>
#include <stdexcept>

namespace ringcast::net {

ring::ring(unsigned entries, bool owner_only) {
    io_uring_params params{};
    if (owner_only) {
        // SINGLE_ISSUER: we promise one submitting thread; DEFER_TASKRUN: completions are
        // processed when we wait, in batches, instead of interrupting us (see header).
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    }
    // A completion queue 4x the submission queue absorbs bursts of multishot recv completions
    // without overflowing into the kernel's slower backlog list.
    params.flags |= IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;
    int rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc < 0) {
        throw std::runtime_error(std::string("io_uring_queue_init failed: ") + std::strerror(-rc) +
                                 (rc == -EINVAL
                                      ? " (kernel too old for SINGLE_ISSUER/DEFER_TASKRUN? need 6.1+)"
                                  : rc == -EPERM ? " (io_uring disabled by sysctl kernel.io_uring_disabled?)"
                                                 : ""));
    }
}

ring::~ring() {
    io_uring_queue_exit(&ring_);
}

io_uring_sqe* ring::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

namespace {
// "6.1.0-18-amd64", for the message that refuses an older kernel.
std::string kernel_release() {
    utsname u{};
    return uname(&u) == 0 ? u.release : "an unknown kernel";
}
} // namespace

std::string probe_kernel() {
    io_uring probe_ring{};
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(8, &probe_ring, &params);
    if (rc < 0) {
        // EINVAL: the flags are unknown (DEFER_TASKRUN is 6.1's); EPERM/ENOSYS: io_uring is
        // disabled (kernel.io_uring_disabled, a seccomp profile) or not built in.
        return std::string("cannot create an io_uring with SINGLE_ISSUER|DEFER_TASKRUN (Linux 6.1): ") +
               std::strerror(-rc) + "; ringcast needs Linux 6.1 or newer with io_uring enabled (this is " +
               kernel_release() + ")";
    }
    std::string missing;
    if (!(params.features & IORING_FEAT_NODROP)) {
        missing += " FEAT_NODROP (5.5)";
    }
    if (!(params.features & IORING_FEAT_CQE_SKIP)) {
        missing += " FEAT_CQE_SKIP (5.17)";
    }
    if (!(params.features & IORING_FEAT_SUBMIT_STABLE)) {
        missing += " FEAT_SUBMIT_STABLE (5.5)";
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&probe_ring);
    if (probe == nullptr) {
        io_uring_queue_exit(&probe_ring);
        return "cannot probe io_uring opcodes (kernel too old)";
    }
    struct {
        int op;
        const char* name;
    } const needed[] = {{IORING_OP_ACCEPT, "ACCEPT (5.5)"},
                        {IORING_OP_RECV, "RECV (5.6)"},
                        {IORING_OP_SEND, "SEND (5.6)"},
                        {IORING_OP_SENDMSG, "SENDMSG (5.3)"},
                        {IORING_OP_TIMEOUT, "TIMEOUT (5.4)"},
                        {IORING_OP_MSG_RING, "MSG_RING (5.18)"},
                        {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL (5.5)"},
                        {IORING_OP_PROVIDE_BUFFERS, "PROVIDE_BUFFERS (5.7)"}};
    for (auto& n : needed) {
        if (!io_uring_opcode_supported(probe, n.op)) {
            missing += std::string(" OP_") + n.name;
        }
    }
    io_uring_free_probe(probe);

    // Provided-buffer rings (5.19+) are what multishot recv draws from.
    int err = 0;
    io_uring_buf_ring* br = io_uring_setup_buf_ring(&probe_ring, 8, 0, 0, &err);
    if (br == nullptr) {
        missing += " provided-buffer rings (5.19)";
    } else {
        io_uring_free_buf_ring(&probe_ring, br, 8, 0);
    }
    io_uring_queue_exit(&probe_ring);
    if (!missing.empty()) {
        return "this kernel's io_uring lacks:" + missing + "; ringcast needs Linux 6.1 or newer (this is " +
               kernel_release() + ")";
    }
    return {};
}

} // namespace ringcast::net

namespace ringcast::net {

void ring::throw_wait_error(int rc) {
    throw std::runtime_error(std::string("io_uring wait: ") + std::strerror(-rc));
}

} // namespace ringcast::net
