// libFuzzer target: what the HTTP API reads from a request besides its headers — the body of
// events and batch_events, the info parameter, channel names and socket ids, and the signature
// check over an arbitrary query. The input is split at its first NUL: query, then body.
#include "ringcast/api/channels.h"
#include "ringcast/api/events.h"
#include "ringcast/auth/signature.h"
#include "ringcast/http/url.h"
#include "ringcast/pusher/channel_name.h"
#include "ringcast/pusher/socket_id.h"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

using namespace ringcast;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t split = input.find('\0');
    std::string_view query = split == std::string_view::npos ? std::string_view{} : input.substr(0, split);
    std::string_view body = split == std::string_view::npos ? input : input.substr(split + 1);

    static simdjson::dom::parser json;
    config::app app;
    app.id = "1";
    app.key = "app-key";
    app.secret = "app-secret";
    (void)api::parse_event(json, body, app);
    (void)api::parse_batch(json, body, app);
    (void)api::parse_info(body);
    (void)pusher::check_channel_name(body, 200);
    (void)pusher::kind_of(body);
    (void)pusher::parse_socket_id(body);
    if (auto params = http::parse_query(query)) {
        (void)auth::verify({app.id, app.key, app.secret}, "POST", "/apps/1/events", "", *params, body,
                           1353088179);
    }
    return 0;
}
