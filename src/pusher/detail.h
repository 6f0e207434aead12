// Private to src/pusher: helpers more than one of the session's files need.
#pragma once

#include <simdjson.h>

#include <string>

namespace ringcast::pusher::detail {

// The `data` of a client message as an object. pusher-js sends an object; some clients
// (pusher-websocket-java) send it JSON-encoded as a string, which Reverb accepts too, so a
// string is parsed once more with `scratch` (its text is kept in `copy`, which must outlive
// `out`). False when it is neither an object nor a string holding one.
[[nodiscard]] bool data_object(simdjson::dom::element data, simdjson::dom::parser& scratch, std::string& copy,
                               simdjson::dom::object& out);

} // namespace ringcast::pusher::detail
