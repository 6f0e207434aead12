// libFuzzer target: bytes from a client before (and instead of) a WebSocket upgrade. The first
// byte picks how the rest is cut into reads, as a socket may deliver it; every request that comes
// out goes through what the server does with one (headers, query parsing, the upgrade check).
#include "ringcast/http/parser.h"
#include "ringcast/http/url.h"
#include "ringcast/ws/handshake.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace ringcast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t step = 1 + data[0] % 97;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    http::parser parser(http::limits{.max_header_bytes = 2048, .max_body_bytes = 4096});
    while (!input.empty()) {
        std::string_view chunk = input.substr(0, step);
        input.remove_prefix(chunk.size());
        while (!chunk.empty()) {
            http::parser::result r = parser.feed(chunk);
            if (r.what == http::parser::status::error) {
                return 0;
            }
            if (r.what == http::parser::status::need_more) {
                break;
            }
            http::request req = parser.take();
            (void)http::parse_query(req.query());
            (void)req.header("origin");
            if (r.what == http::parser::status::upgrade) {
                if (ws::check_upgrade(req).ok()) {
                    (void)ws::upgrade_response(req.header("sec-websocket-key"));
                }
                return 0; // the rest belongs to the WebSocket
            }
            chunk.remove_prefix(r.consumed);
        }
    }
    return 0;
}
