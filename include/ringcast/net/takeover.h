// Taking a port over from the server that listens there now (`ringcast restart`): find its
// process through /proc, then make the kernel hand every new connection to our listeners.
//
// How: every listener on a port with SO_REUSEPORT (same user) joins one group, in the order
// they started listening, so the old server's k sockets hold places 0..k-1 and ours come after.
// A classic BPF program attached to the group (SO_ATTACH_REUSEPORT_CBPF) returns the place
// that takes a new connection: ours only. The old server then stops like on SIGTERM, and its
// clients reconnect to us.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ringcast::net {

struct port_owner {
    std::vector<pid_t> pids; // processes holding a listening socket on the address (not us)
    unsigned sockets = 0;    // listening sockets on it: the old server's share of the group
};

// The listeners on host:port (what `host` resolves to, as listen_reuseport binds it), from
// /proc/net/tcp{,6} and the /proc/<pid>/fd links of this user's processes. Empty when nothing
// listens there. Throws std::runtime_error when a listener belongs to no process we can see
// (another user's), which SO_REUSEPORT would not let us share anyway.
[[nodiscard]] port_owner find_port_owner(const std::string& host, std::uint16_t port);

// /proc/<pid>/comm: the process's name ("ringcast"), or "" if it has gone.
[[nodiscard]] std::string process_name(pid_t pid);

// Attaches to the group of listener `fd` a program that sends each new connection to one of
// the places old_sockets .. old_sockets + new_sockets - 1 (ours), picked at random. Throws
// std::runtime_error with the kernel's reason.
void steer_new_connections(int fd, unsigned old_sockets, unsigned new_sockets);

// Removes the program once the old server has gone: the kernel's own hash spreads the
// connections over our listeners again.
void stop_steering(int fd) noexcept;

} // namespace ringcast::net
