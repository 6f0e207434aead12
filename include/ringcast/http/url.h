// Query-string and percent-decoding helpers for routes and REST signatures.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::http {

// Decodes %XX escapes and '+' (as space, the form-encoding convention SDKs use in query strings).
// Returns nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view in);

// Splits "a=1&b=2" into decoded pairs in order; nullopt if any part fails to decode.
[[nodiscard]] std::optional<std::vector<std::pair<std::string, std::string>>>
parse_query(std::string_view query);

} // namespace ringcast::http
