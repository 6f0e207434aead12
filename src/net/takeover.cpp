// Finding a port's current server through /proc, and steering its new connections to us.
#include "ringcast/net/takeover.h"

#include <dirent.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace ringcast::net {
namespace {

// The local_address column of /proc/net/tcp{,6} for an address: the address's 32-bit words
// printed as the kernel prints them (%08X of each word as it sits in memory), then the port.
std::string proc_address(const sockaddr* sa) {
    char text[64];
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        std::snprintf(text, sizeof text, "%08X:%04X", in->sin_addr.s_addr, ntohs(in->sin_port));
        return text;
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::uint32_t words[4];
    std::memcpy(words, &in6->sin6_addr, sizeof words);
    std::snprintf(text, sizeof text, "%08X%08X%08X%08X:%04X", words[0], words[1], words[2], words[3],
                  ntohs(in6->sin6_port));
    return text;
}

// The /proc/net/tcp{,6} spellings of every address `host` resolves to.
std::set<std::string> wanted_addresses(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port_text = std::to_string(port);
    if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &res) != 0) {
        return {};
    }
    std::set<std::string> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        out.insert(proc_address(ai->ai_addr));
    }
    freeaddrinfo(res);
    return out;
}

// Inodes of the listening sockets (state 0A) at one of `addresses`.
std::set<std::string> listening_inodes(const std::set<std::string>& addresses) {
    std::set<std::string> inodes;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line); // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
                inode;
            if (state == "0A" && addresses.count(local) != 0) {
                inodes.insert(inode);
            }
        }
    }
    return inodes;
}

// Whether one of pid's descriptors is one of `sockets` ("socket:[inode]" links).
bool holds_one_of(const std::string& pid, const std::set<std::string>& sockets) {
    std::string dir = "/proc/" + pid + "/fd";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
        return false; // gone, or another user's
    }
    bool found = false;
    while (dirent* e = readdir(d)) {
        char target[64];
        std::string link = dir + "/" + e->d_name;
        ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
        if (n > 9 && std::strncmp(target, "socket:[", 8) == 0) {
            found = sockets.count(std::string(target + 8, static_cast<std::size_t>(n) - 9)) != 0;
            if (found) {
                break;
            }
        }
    }
    closedir(d);
    return found;
}

} // namespace

port_owner find_port_owner(const std::string& host, std::uint16_t port) {
    port_owner owner;
    std::set<std::string> inodes = listening_inodes(wanted_addresses(host, port));
    owner.sockets = static_cast<unsigned>(inodes.size());
    if (inodes.empty()) {
        return owner;
    }
    DIR* proc = opendir("/proc");
    while (dirent* e = proc != nullptr ? readdir(proc) : nullptr) {
        std::string pid = e->d_name;
        bool numeric =
            !pid.empty() && std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (numeric && std::stoi(pid) != getpid() && holds_one_of(pid, inodes)) {
            owner.pids.push_back(std::stoi(pid));
        }
    }
    if (proc != nullptr) {
        closedir(proc);
    }
    if (owner.pids.empty()) {
        throw std::runtime_error("cannot take " + host + ":" + std::to_string(port) +
                                 " over: its listener belongs to a process this user cannot see (another "
                                 "user's?); run ringcast restart as the user the server runs as");
    }
    return owner;
}

std::string process_name(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

void steer_new_connections(int fd, unsigned old_sockets, unsigned new_sockets) {
    // A = random; A %= new_sockets; A += old_sockets; return A. The random draw spreads new
    // connections over our listeners as the kernel's hash otherwise would.
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, new_sockets},
        {BPF_ALU | BPF_ADD | BPF_K, 0, 0, old_sockets},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) != 0) {
        throw std::runtime_error(
            std::string("cannot steer new connections to this process (SO_ATTACH_REUSEPORT_CBPF): ") +
            std::strerror(errno));
    }
}

void stop_steering(int fd) noexcept {
    int unused = 0;
    setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused, sizeof unused);
}

} // namespace ringcast::net
