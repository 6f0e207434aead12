// Percent-decoding (%XX), shared by the HTTP layer (paths and query strings) and the config
// (credentials inside Redis URLs).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringcast::core {

// Decodes %XX escapes; with `plus_is_space`, '+' too (the form-encoding convention SDKs use in
// query strings). nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

} // namespace ringcast::core
