// libFuzzer target: bytes from a client after the upgrade — frames of any kind, masked or not,
// fragmented, oversized, invalid UTF-8, control frames in the middle of messages. The first byte
// picks the read size.
#include "ringcast/ws/decoder.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace ringcast;

namespace {
struct counting_sink : ws::message_sink {
    std::size_t bytes = 0;
    void on_text(std::string_view message) override { bytes += message.size(); }
    void on_control_bytes(std::string_view frame) override { bytes += frame.size(); }
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t step = 1 + data[0] % 61;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    ws::decoder decoder(1024);
    counting_sink sink;
    while (!input.empty()) {
        std::string_view chunk = input.substr(0, step);
        input.remove_prefix(chunk.size());
        if (decoder.feed(chunk, sink) != ws::decoder::state::open) {
            break;
        }
    }
    return 0;
}
