// simdjson's DOM parser on a string_view that may be empty. An empty WebSocket message or body
// can come with a null data pointer, and simdjson copies the input with memcpy, which must not be
// given a null source even for zero bytes (UBSan reports it). Every parse of untrusted input goes
// through here.
#pragma once

#include <simdjson.h>

#include <string_view>

namespace ringcast::core {

inline simdjson::simdjson_result<simdjson::dom::element> parse_json(simdjson::dom::parser& parser,
                                                                    std::string_view text) {
    static constexpr char nothing = '\0';
    return parser.parse(text.empty() ? &nothing : text.data(), text.size());
}

} // namespace ringcast::core
