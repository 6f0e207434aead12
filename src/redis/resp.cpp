// RESP parsing and command encoding (see resp.h).
#include "ringcast/redis/resp.h"

#include <algorithm>
#include <charconv>

namespace ringcast::redis {
namespace {

class reader {
public:
    reader(std::string_view in, const limits& l) : in_(in), limits_(l) {}

    parse_status value_at(value& out, unsigned depth);
    std::size_t position() const noexcept { return pos_; }
    const std::string& error() const noexcept { return error_; }

private:
    // The line from the current position up to CRLF (not included); false when not all here yet.
    bool line(std::string_view& out);
    parse_status number_line(std::int64_t& out);
    parse_status length(value& out, std::int64_t& n);
    parse_status bulk(value& out, kind as, bool verbatim = false);
    parse_status aggregate(value& out, kind as, unsigned depth, std::size_t per_entry);
    parse_status fail(std::string why) {
        error_ = std::move(why);
        return parse_status::invalid;
    }

    std::string_view in_;
    const limits& limits_;
    std::size_t pos_ = 0;
    std::string error_;
};

bool reader::line(std::string_view& out) {
    std::size_t end = in_.find("\r\n", pos_);
    if (end == std::string_view::npos) {
        return false;
    }
    out = in_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
}

parse_status reader::number_line(std::int64_t& out) {
    std::string_view text;
    if (!line(text)) {
        // A length or integer line is short; a long one without CRLF is not RESP.
        return in_.size() - pos_ > 32 ? fail("a number line without its end") : parse_status::incomplete;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return fail("not a number: " + std::string(text.substr(0, 32)));
    }
    return parse_status::complete;
}

// The length line of a bulk string or an aggregate; -1 (RESP2's null) makes `out` a null.
parse_status reader::length(value& out, std::int64_t& n) {
    parse_status s = number_line(n);
    if (s == parse_status::complete && n == -1) {
        out.type = kind::null;
    }
    return s;
}

parse_status reader::bulk(value& out, kind as, bool verbatim) {
    std::int64_t n = 0;
    if (parse_status s = length(out, n); s != parse_status::complete || n == -1) {
        return s;
    }
    if (n < 0 || static_cast<std::uint64_t>(n) > limits_.max_bulk_bytes) {
        return fail("a string of " + std::to_string(n) + " bytes is out of bounds");
    }
    auto len = static_cast<std::size_t>(n);
    if (in_.size() - pos_ < len + 2) {
        return parse_status::incomplete;
    }
    if (in_.substr(pos_ + len, 2) != "\r\n") {
        return fail("a string not followed by CRLF");
    }
    out.type = as;
    out.text.assign(in_.substr(pos_, len));
    if (verbatim) {
        // "txt:..." or "mkd:...": three letters of format, then the text.
        if (out.text.size() < 4 || out.text[3] != ':') {
            return fail("a verbatim string without its format");
        }
        out.text.erase(0, 4);
    }
    pos_ += len + 2;
    return parse_status::complete;
}

parse_status reader::aggregate(value& out, kind as, unsigned depth, std::size_t per_entry) {
    std::int64_t n = 0;
    if (parse_status s = length(out, n); s != parse_status::complete || n == -1) {
        return s;
    }
    if (n < 0 || static_cast<std::uint64_t>(n) * per_entry > limits_.max_elements) {
        return fail("an aggregate of " + std::to_string(n) + " entries is out of bounds");
    }
    if (depth >= limits_.max_depth) {
        return fail("values nested deeper than " + std::to_string(limits_.max_depth));
    }
    out.type = as;
    std::size_t count = static_cast<std::size_t>(n) * per_entry;
    // Every element takes at least 3 bytes ("_\r\n"): do not reserve for what cannot be here.
    out.elements.reserve(std::min(count, (in_.size() - pos_) / 3));
    for (std::size_t i = 0; i < count; ++i) {
        out.elements.emplace_back();
        if (parse_status s = value_at(out.elements.back(), depth + 1); s != parse_status::complete) {
            return s;
        }
    }
    return parse_status::complete;
}

parse_status reader::value_at(value& out, unsigned depth) {
    if (pos_ >= in_.size()) {
        return parse_status::incomplete;
    }
    char type = in_[pos_++];
    std::string_view text;
    switch (type) {
    case '+':
    case '-':
    case ',':
    case '(':
        if (!line(text)) {
            return in_.size() - pos_ > limits_.max_bulk_bytes ? fail("a line without its end")
                                                              : parse_status::incomplete;
        }
        out.type = type == '+' ? kind::simple_string : type == '-' ? kind::error : kind::number;
        out.text.assign(text);
        return parse_status::complete;
    case ':':
        out.type = kind::integer;
        return number_line(out.integer);
    case '$':
        return bulk(out, kind::bulk_string);
    case '=':
        return bulk(out, kind::bulk_string, true);
    case '!':
        return bulk(out, kind::error);
    case '_':
        if (!line(text)) {
            return parse_status::incomplete;
        }
        out.type = kind::null;
        return text.empty() ? parse_status::complete : fail("a null with content");
    case '#':
        if (!line(text)) {
            return parse_status::incomplete;
        }
        if (text != "t" && text != "f") {
            return fail("a boolean that is neither t nor f");
        }
        out.type = kind::boolean;
        out.integer = text == "t" ? 1 : 0;
        return parse_status::complete;
    case '*':
    case '~':
        return aggregate(out, kind::array, depth, 1);
    case '>':
        return aggregate(out, kind::push, depth, 1);
    case '%':
        return aggregate(out, kind::map, depth, 2);
    case '|':
        // An attribute map comes before the value it describes: read it, then the value.
        if (parse_status s = aggregate(out, kind::map, depth, 2); s != parse_status::complete) {
            return s;
        }
        out = value();
        return value_at(out, depth);
    default:
        return fail("unknown RESP type byte " + std::to_string(static_cast<unsigned char>(type)));
    }
}

} // namespace

parse_result parse(std::string_view input, value& out, const limits& l) {
    out = value();
    reader r(input, l);
    parse_result result;
    result.status = r.value_at(out, 0);
    if (result.status == parse_status::complete) {
        result.consumed = r.position();
    } else if (result.status == parse_status::invalid) {
        result.error = r.error();
    }
    return result;
}

void append_command(std::string& out, std::span<const std::string_view> args) {
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (std::string_view a : args) {
        out += '$';
        out += std::to_string(a.size());
        out += "\r\n";
        out += a;
        out += "\r\n";
    }
}

} // namespace ringcast::redis
