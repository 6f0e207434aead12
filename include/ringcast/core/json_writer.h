// Writing JSON text: the one place that escapes strings, used by every module that builds JSON
// (Pusher messages, HTTP API answers, HTTP error bodies). Builders append to a std::string they
// own, so a message is assembled in one buffer and copied once into its frame.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::core {

// Appends `text` to `out` as the contents of a JSON string (quotes not included). Bytes are
// passed through as they are (the input is UTF-8 already); quotes, backslashes and control
// characters are escaped.
void append_json_escaped(std::string& out, std::string_view text);
// Appends `text` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view text);

} // namespace ringcast::core
