// libFuzzer target: the two configuration files a user writes by hand, read the way
// `ringcast start` reads them. The first input byte picks the file: even, the rest is a JSON
// apps/config file (--config); odd, a Laravel .env file, parsed on its own and then through
// --env. Either way the whole of config::load runs: parsing, Reverb/soketi names, validation.
// Bad input must give one clear error, never a crash, a hang or unbounded memory.
#include "ringcast/config/config.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace ringcast;

namespace {
// One in-memory file, rewritten for every input and read back through its /proc path.
const std::string& scratch_path() {
    static const std::string path = [] {
        int fd = memfd_create("ringcast-config-fuzz", MFD_CLOEXEC);
        return "/proc/self/fd/" + std::to_string(fd);
    }();
    return path;
}

void write_scratch(std::string_view text) {
    static int fd = -1;
    if (fd < 0) {
        fd = std::stoi(scratch_path().substr(std::string_view("/proc/self/fd/").size()));
    }
    (void)ftruncate(fd, 0);
    (void)pwrite(fd, text.data(), text.size(), 0);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    bool dotenv = (data[0] & 1) != 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (dotenv) {
        config::variables process_env{{"HOME", "/home/app"}, {"REVERB_APP_ID", "from-process"}};
        (void)config::parse_dotenv(text, process_env);
    }
    write_scratch(text);
    const std::string& path = scratch_path();
    const char* argv[] = {"ringcast", "start", dotenv ? "--env" : "--config", path.c_str(), nullptr};
    const char* envp[] = {"PATH=/usr/bin", nullptr};
    (void)config::load(4, argv, envp);
    return 0;
}
