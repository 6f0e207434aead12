// JSON string escaping (see json_writer.h).
#include "ringcast/core/json_writer.h"

namespace ringcast::core {

namespace {
bool plain(unsigned char c) noexcept {
    return c >= 0x20 && c != '"' && c != '\\';
}

void append_escape(std::string& out, unsigned char c) {
    static constexpr char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        out += "\\\"";
        break;
    case '\\':
        out += "\\\\";
        break;
    case '\n':
        out += "\\n";
        break;
    case '\r':
        out += "\\r";
        break;
    case '\t':
        out += "\\t";
        break;
    default:
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xf]);
    }
}
} // namespace

void append_json_escaped(std::string& out, std::string_view text) {
    // Runs of characters that need no escaping (nearly all of them) are appended whole.
    size_t i = 0;
    while (i < text.size()) {
        size_t run = i;
        while (run < text.size() && plain(static_cast<unsigned char>(text[run]))) {
            ++run;
        }
        out.append(text.data() + i, run - i);
        if (run == text.size()) {
            break;
        }
        append_escape(out, static_cast<unsigned char>(text[run]));
        i = run + 1;
    }
}

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    append_json_escaped(out, text);
    out += '"';
}

} // namespace ringcast::core
