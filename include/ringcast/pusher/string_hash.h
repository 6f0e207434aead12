// A transparent hash for maps keyed by std::string, so lookups take a string_view without
// building a string (channel tables, publish routes).
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace ringcast::pusher {

struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

} // namespace ringcast::pusher
