// Value parsers shared by the command line, the environment and the JSON file.
#include "detail.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ringcast::config::detail {

std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t min, std::uint64_t max) {
    std::uint64_t n = 0;
    const char* end = text.data() + text.size();
    // from_chars takes no sign, skips no whitespace and reports overflow, which is exactly the
    // strictness we want: "+80", " 80" and "80x" are typos worth reporting.
    auto [stop, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc{} || stop != end || n < min || n > max) {
        return std::nullopt;
    }
    return n;
}

std::optional<std::string> parse_log_level(std::string_view text) {
    for (std::string_view level : {"debug", "info", "warn", "error"}) {
        if (equals_lowercase(text, level)) {
            return std::string(level);
        }
    }
    if (equals_lowercase(text, "warning")) {
        return std::string("warn");
    }
    return std::nullopt;
}

std::optional<std::string> parse_log_format(std::string_view text) {
    for (std::string_view format : {"text", "json"}) {
        if (equals_lowercase(text, format)) {
            return std::string(format);
        }
    }
    return std::nullopt;
}

bool equals_lowercase(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != lower[i]) {
            return false;
        }
    }
    return true;
}

std::string expected_range(std::uint64_t min, std::uint64_t max) {
    return "expected a number from " + std::to_string(min) + " to " + std::to_string(max);
}

std::string in_quotes(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        // Escape what would make the message ambiguous or garble the terminal.
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += hex;
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::optional<std::string> normalise_path(std::string_view path) {
    for (char c : path) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') {
            return std::nullopt;
        }
    }
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    while (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    if (path.empty()) {
        return std::string{};
    }
    // Routes are matched as prefix + "/app/...", so one leading slash and none trailing.
    return "/" + std::string(path);
}

std::optional<client_events_from> parse_client_events_from(std::string_view text) {
    if (text == "all") {
        return client_events_from::all;
    }
    if (text == "members") {
        return client_events_from::members;
    }
    if (text == "none") {
        return client_events_from::none;
    }
    return std::nullopt;
}

core::result<std::string> read_file(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) {
        return core::failure(std::strerror(errno));
    }
    std::string text;
    char chunk[8192];
    std::size_t got = 0;
    while ((got = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) {
        text.append(chunk, got);
    }
    if (std::ferror(file.get()) != 0) {
        // fopen succeeds on a directory; the read is where that fails (EISDIR).
        return core::failure(std::strerror(errno));
    }
    return text;
}

} // namespace ringcast::config::detail
