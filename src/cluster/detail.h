// Small helpers the cluster module's files share (not an interface of the module).
#pragma once

#include "ringcast/redis/resp.h"

#include <charconv>
#include <cstdint>

namespace ringcast::cluster::detail {

// An integer reply, or a number sent as a string; 0 when it is neither.
inline std::uint64_t number_of(const redis::value& v) {
    if (v.type == redis::kind::integer) {
        return v.integer < 0 ? 0 : static_cast<std::uint64_t>(v.integer);
    }
    std::uint64_t n = 0;
    std::from_chars(v.text.data(), v.text.data() + v.text.size(), n);
    return n;
}

// The reply every waiting command gets when its connection goes (redis::connection).
inline bool is_lost(const redis::value& v) {
    return v.is_error() && v.text.starts_with("connection lost");
}

} // namespace ringcast::cluster::detail
