// A small streaming JSON writer for the run records: one key per line, so a record reads well in a
// diff and a shell script can pick a figure out with grep.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::bench {

class json_writer {
public:
    json_writer& begin_object(bool inline_items = false);
    json_writer& end_object();
    json_writer& begin_array(bool inline_items = false);
    json_writer& end_array();
    json_writer& key(std::string_view name);

    json_writer& value(std::string_view text);
    json_writer& value(const char* text) { return value(std::string_view(text)); }
    json_writer& value(const std::string& text) { return value(std::string_view(text)); }
    json_writer& value(double number); // NaN and infinities become null
    json_writer& value(std::uint64_t number);
    json_writer& value(std::int64_t number);
    json_writer& value(unsigned number) { return value(static_cast<std::uint64_t>(number)); }
    json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
    json_writer& value(bool flag);
    json_writer& null();
    template <class T> json_writer& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }

    [[nodiscard]] const std::string& str() const noexcept { return out_; }

private:
    struct level {
        bool inline_items;
        std::size_t items;
    };
    void before_item();
    void raw(std::string_view text) { out_.append(text); }

    std::string out_;
    std::vector<level> stack_;
    bool after_key_ = false;
};

} // namespace ringcast::bench
