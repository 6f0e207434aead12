// Lets ringcast run under valgrind (scripts/bench-cost), preloaded with LD_PRELOAD.
//
// Valgrind runs one thread at a time and releases its lock only around system calls it knows
// may block. Valgrind 3.19 does not count io_uring_enter among them, so a thread waiting in the
// ring keeps every other thread (and through them the clients) stopped until its wait ends:
// ringcast under valgrind accepts a connection and then stands still. These wrappers replace
// the two liburing waits ringcast uses (linked statically, so they are wrapped in the main
// executable: soname NONE) with the same wait done as non-blocking ring entries separated by
// nanosleep, which valgrind does know may block. How often such a wait goes round depends on
// timing, so under callgrind each wrapper turns the counting off for the whole wait (the ring
// entries of liburing included) and on again before it returns.
#include <errno.h>
#include <liburing.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

// Short sleeps first, so a busy ring is served soon; up to 1 ms when nothing comes, so idle
// threads (the webhook thread's one-second waits) do not keep valgrind busy.
static void pause_for(long* ns) {
    struct timespec t = {0, *ns};
    nanosleep(&t, NULL);
    if (*ns < 1000000) {
        *ns *= 2;
    }
}

// Runs the ring's deferred task work (DEFER_TASKRUN posts completions only inside
// io_uring_enter with GETEVENTS) without waiting for anything.
static void reap(struct io_uring* ring) {
    (void)syscall(__NR_io_uring_enter, ring->ring_fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
}

int I_WRAP_SONAME_FNNAME_ZU(NONE, io_uring_submit_and_wait)(struct io_uring* ring, unsigned wait_nr);
int I_WRAP_SONAME_FNNAME_ZU(NONE, io_uring_submit_and_wait)(struct io_uring* ring, unsigned wait_nr) {
    OrigFn orig;
    VALGRIND_GET_ORIG_FN(orig);
    CALLGRIND_TOGGLE_COLLECT;
    int submitted;
    CALL_FN_W_WW(submitted, orig, ring, 0); // submits, waits for nothing
    if (submitted >= 0 && wait_nr > 0) {
        long ns = 10000;
        reap(ring);
        while (io_uring_cq_ready(ring) < wait_nr) {
            pause_for(&ns);
            reap(ring);
        }
    }
    CALLGRIND_TOGGLE_COLLECT;
    return submitted;
}

int I_WRAP_SONAME_FNNAME_ZU(NONE, io_uring_submit_and_wait_timeout)(struct io_uring* ring,
                                                                    struct io_uring_cqe** cqe,
                                                                    unsigned wait_nr,
                                                                    struct __kernel_timespec* ts,
                                                                    sigset_t* sigmask);
int I_WRAP_SONAME_FNNAME_ZU(NONE, io_uring_submit_and_wait_timeout)(struct io_uring* ring,
                                                                    struct io_uring_cqe** cqe,
                                                                    unsigned wait_nr,
                                                                    struct __kernel_timespec* ts,
                                                                    sigset_t* sigmask) {
    OrigFn orig;
    VALGRIND_GET_ORIG_FN(orig);
    CALLGRIND_TOGGLE_COLLECT;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long limit_ns = ts ? ts->tv_sec * 1000000000LL + ts->tv_nsec : -1;
    struct __kernel_timespec zero = {0, 0};
    long ns = 10000;
    while (1) {
        int rc;
        // The original with a zero timeout: submits, runs the task work, never sleeps.
        CALL_FN_W_5W(rc, orig, ring, cqe, wait_nr, &zero, sigmask);
        if (rc != -ETIME) {
            CALLGRIND_TOGGLE_COLLECT;
            return rc;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long waited = (now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
        if (limit_ns >= 0 && waited >= limit_ns) {
            CALLGRIND_TOGGLE_COLLECT;
            return -ETIME;
        }
        pause_for(&ns);
    }
}
