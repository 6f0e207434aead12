// Redis's wire protocol (RESP2 and the RESP3 types a server may send), without I/O: commands are
// appended to a buffer as arrays of bulk strings; replies and pub/sub pushes are parsed from the
// front of the receive buffer, one value at a time, under limits, so a broken or hostile server
// can make a node drop the connection but never crash it or grow without bound.
//
// The parser is stateless between calls: parse() either finds a complete value at the start of
// the buffer (and says how many bytes it took), or says more bytes are needed, or that the bytes
// are not RESP. Re-parsing a partial value costs little because every length is declared up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::redis {

enum class kind : std::uint8_t {
    simple_string, // +OK
    error,         // -ERR ...
    integer,       // :1
    bulk_string,   // $3 foo (also RESP3 verbatim strings, without their format prefix)
    null,          // $-1, *-1, _
    array,         // * (also RESP3 sets)
    push,          // > (RESP3 pub/sub messages)
    map,           // % (elements hold key, value, key, value...)
    boolean,       // #t / #f (integer 1 / 0)
    number,        // , (doubles) and ( (big numbers), kept as text
};

struct value {
    kind type = kind::null;
    std::string text; // strings, errors, numbers as text
    std::int64_t integer = 0;
    std::vector<value> elements;

    [[nodiscard]] bool is_error() const noexcept { return type == kind::error; }
    [[nodiscard]] bool is_string() const noexcept {
        return type == kind::simple_string || type == kind::bulk_string;
    }
};

struct limits {
    std::size_t max_bulk_bytes = 64 * 1024 * 1024;
    std::size_t max_elements = 1'000'000; // in one aggregate
    unsigned max_depth = 8;
};

enum class parse_status { complete, incomplete, invalid };

struct parse_result {
    parse_status status = parse_status::incomplete;
    std::size_t consumed = 0; // bytes of the value when complete
    std::string error;        // why, when invalid
};

// Parses one value from the start of `input` into `out`.
[[nodiscard]] parse_result parse(std::string_view input, value& out, const limits& l = {});

// Appends `args` as one command (an array of bulk strings), as clients must send them.
void append_command(std::string& out, std::span<const std::string_view> args);
inline void append_command(std::string& out, std::initializer_list<std::string_view> args) {
    append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

} // namespace ringcast::redis
