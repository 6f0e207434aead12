// ringcast-bench: a Pusher-protocol load generator on io_uring. Parses the command line and runs
// one scenario (or turns records into a report).
#include "options.h"
#include "scenarios.h"

#include <csignal>
#include <unistd.h>

int main(int argc, char** argv) {
    using namespace ringcast::bench;
    options o = parse_options(argc, argv);
    // Sends use MSG_NOSIGNAL; this covers the pipe to the ceiling's sender child.
    std::signal(SIGPIPE, SIG_IGN);
    if (o.scenario == "report") {
        return run_report(o);
    }
    // Every run is bounded: whatever happens (a hung server, a bench bug), the process ends. The
    // default SIGALRM action terminates it.
    double bound = o.connect_timeout_s * 2 + o.connections / 200.0 + o.duration_s * 2 + o.drain_s + 60;
    alarm(static_cast<unsigned>(bound));
    if (o.scenario == "connect") {
        return run_connect(o);
    }
    if (o.scenario == "ceiling") {
        return run_ceiling(o);
    }
    if (o.scenario == "presence" || o.scenario == "whisper") {
        return run_peers(o);
    }
    if (o.scenario == "soak") {
        return run_soak(o);
    }
    return run_fanout(o);
}
