// Formatting and escaping for json_writer.
#include "json_writer.h"

#include <cmath>
#include <cstdio>

namespace ringcast::bench {

void json_writer::before_item() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (stack_.empty()) {
        return;
    }
    level& top = stack_.back();
    if (top.items++ > 0) {
        out_ += ',';
    }
    if (top.inline_items) {
        if (top.items > 1) {
            out_ += ' ';
        }
    } else {
        out_ += '\n';
        out_.append(stack_.size() * 2, ' ');
    }
}

json_writer& json_writer::begin_object(bool inline_items) {
    before_item();
    out_ += '{';
    stack_.push_back({inline_items || (!stack_.empty() && stack_.back().inline_items), 0});
    return *this;
}

json_writer& json_writer::end_object() {
    level top = stack_.back();
    stack_.pop_back();
    if (!top.inline_items && top.items > 0) {
        out_ += '\n';
        out_.append(stack_.size() * 2, ' ');
    }
    out_ += '}';
    if (stack_.empty()) {
        out_ += '\n';
    }
    return *this;
}

json_writer& json_writer::begin_array(bool inline_items) {
    before_item();
    out_ += '[';
    stack_.push_back({inline_items || (!stack_.empty() && stack_.back().inline_items), 0});
    return *this;
}

json_writer& json_writer::end_array() {
    level top = stack_.back();
    stack_.pop_back();
    if (!top.inline_items && top.items > 0) {
        out_ += '\n';
        out_.append(stack_.size() * 2, ' ');
    }
    out_ += ']';
    return *this;
}

json_writer& json_writer::key(std::string_view name) {
    value(name);
    out_ += ": ";
    after_key_ = true;
    return *this;
}

json_writer& json_writer::value(std::string_view text) {
    before_item();
    out_ += '"';
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out_ += '\\';
            out_ += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
        } else {
            out_ += ch;
        }
    }
    out_ += '"';
    return *this;
}

json_writer& json_writer::value(double number) {
    if (!std::isfinite(number)) {
        return null();
    }
    before_item();
    char buf[32];
    // Ten significant digits keep every figure exact enough while avoiding 0.1000000000000000055.
    std::snprintf(buf, sizeof buf, "%.10g", number);
    raw(buf);
    return *this;
}

json_writer& json_writer::value(std::uint64_t number) {
    before_item();
    raw(std::to_string(number));
    return *this;
}

json_writer& json_writer::value(std::int64_t number) {
    before_item();
    raw(std::to_string(number));
    return *this;
}

json_writer& json_writer::value(bool flag) {
    before_item();
    raw(flag ? "true" : "false");
    return *this;
}

json_writer& json_writer::null() {
    before_item();
    raw("null");
    return *this;
}

} // namespace ringcast::bench
