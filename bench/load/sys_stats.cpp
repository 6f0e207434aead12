// /proc readers and getrusage wrappers.
#include "sys_stats.h"

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string_view>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace ringcast::bench {

namespace {

std::uint64_t timeval_ns(const timeval& tv) noexcept {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000ULL +
           static_cast<std::uint64_t>(tv.tv_usec) * 1000ULL;
}

std::uint64_t rusage_ns(int who) noexcept {
    rusage ru{};
    if (getrusage(who, &ru) != 0) {
        return 0;
    }
    return timeval_ns(ru.ru_utime) + timeval_ns(ru.ru_stime);
}

} // namespace

std::optional<std::uint64_t> process_rss_bytes(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmRSS:")) {
            std::uint64_t kib = std::strtoull(line.c_str() + 6, nullptr, 10);
            return kib * 1024;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> process_fd_count(int pid) {
    DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (dir == nullptr) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') {
            ++n;
        }
    }
    closedir(dir);
    return n;
}

std::optional<std::uint64_t> process_cpu_ns(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) {
        return std::nullopt;
    }
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    // Fields after ')' start at 3 (state); utime is field 14 and stime 15 (proc(5)).
    for (int index = 3; index <= 15 && (fields >> field); ++index) {
        if (index == 14) {
            utime = std::strtoull(field.c_str(), nullptr, 10);
        } else if (index == 15) {
            stime = std::strtoull(field.c_str(), nullptr, 10);
        }
    }
    long ticks = sysconf(_SC_CLK_TCK);
    if (ticks <= 0) {
        ticks = 100;
    }
    return (utime + stime) * (1'000'000'000ULL / static_cast<std::uint64_t>(ticks));
}

std::uint64_t self_cpu_ns() noexcept {
    return rusage_ns(RUSAGE_SELF);
}

std::uint64_t thread_cpu_ns() noexcept {
    return rusage_ns(RUSAGE_THREAD);
}

machine_cpu read_machine_cpu() {
    std::ifstream in("/proc/stat");
    std::string label;
    machine_cpu out;
    if (!(in >> label) || label != "cpu") {
        return out;
    }
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    std::uint64_t v[8] = {};
    for (auto& x : v) {
        in >> x;
    }
    std::uint64_t idle = v[3] + v[4];
    for (auto x : v) {
        out.total_ticks += x;
    }
    out.busy_ticks = out.total_ticks - idle;
    out.irq_ticks = v[5] + v[6];
    return out;
}

double machine_busy_percent(const machine_cpu& before, const machine_cpu& after) noexcept {
    std::uint64_t total = after.total_ticks - before.total_ticks;
    if (total == 0) {
        return 0;
    }
    return 100.0 * static_cast<double>(after.busy_ticks - before.busy_ticks) / static_cast<double>(total);
}

double machine_irq_percent(const machine_cpu& before, const machine_cpu& after) noexcept {
    std::uint64_t total = after.total_ticks - before.total_ticks;
    if (total == 0) {
        return 0;
    }
    return 100.0 * static_cast<double>(after.irq_ticks - before.irq_ticks) / static_cast<double>(total);
}

machine_info read_machine_info() {
    machine_info m;
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) {
        m.hostname = host;
    }
    utsname u{};
    if (uname(&u) == 0) {
        m.kernel = u.release;
        m.kernel_version = u.version;
        m.arch = u.machine;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    m.cores = cores > 0 ? static_cast<unsigned>(cores) : 0;
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0) {
        m.memory_bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
    }
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        m.open_file_limit = lim.rlim_cur;
    }
    std::ifstream loadavg("/proc/loadavg");
    loadavg >> m.loadavg_1m;
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.starts_with("model name")) {
            std::size_t colon = line.find(':');
            if (colon != std::string::npos) {
                m.cpu_model = line.substr(colon + 2);
            }
            break;
        }
    }
    return m;
}

} // namespace ringcast::bench
