// Laravel .env reader: the subset of phpdotenv's syntax that Laravel projects use.
#include "ringcast/config/config.h"

namespace ringcast::config {
namespace {

bool is_name_char(char c) {
    // phpdotenv's variable-name alphabet; '.' appears in some real-world keys.
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

// A cursor over the whole text rather than a line splitter, because quoted values may span lines.
class dotenv_parser {
public:
    dotenv_parser(std::string_view text, const variables& process_env, variables& values)
        : text_(text), process_env_(process_env), values_(values) {}

    // Fails with "line N: ...".
    core::status run() {
        while (!at_end()) {
            skip_blanks();
            if (at_end()) {
                break;
            }
            if (peek() == '\n' || peek() == '#') {
                skip_line();
                continue;
            }
            if (core::status s = assignment(); !s) {
                return s;
            }
        }
        return core::ok();
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }
    bool at_line_end() const { return at_end() || peek() == '\n'; }

    void skip_blanks() {
        while (!at_end() && is_blank(peek())) {
            ++pos_;
        }
    }

    // Past the next newline (or to the end).
    void skip_line() {
        while (!at_end() && peek() != '\n') {
            ++pos_;
        }
        if (!at_end()) {
            ++pos_;
            ++line_;
        }
    }

    static core::status fail(unsigned line, const std::string& what) {
        return core::failure("line " + std::to_string(line) + ": " + what);
    }

    std::string_view name() {
        std::size_t start = pos_;
        while (!at_end() && is_name_char(peek())) {
            ++pos_;
        }
        return text_.substr(start, pos_ - start);
    }

    core::status assignment() {
        std::string_view key = name();
        // `export KEY=...` lets the same file be sourced by a shell.
        if (key == "export" && !at_end() && is_blank(peek())) {
            skip_blanks();
            key = name();
        }
        if (key.empty()) {
            return fail(line_, "expected a variable name (KEY=VALUE)");
        }
        skip_blanks();
        if (at_end() || peek() != '=') {
            return fail(line_, "expected \"=\" after " + std::string(key));
        }
        ++pos_;
        skip_blanks();

        std::string value;
        unsigned start_line = line_;
        if (!at_end() && (peek() == '"' || peek() == '\'')) {
            bool ok = peek() == '"' ? double_quoted(value) : single_quoted(value);
            if (!ok) {
                return fail(start_line, "unterminated quoted value of " + std::string(key));
            }
            skip_blanks();
            if (!at_line_end() && peek() != '#') {
                return fail(line_, "unexpected text after the closing quote of " + std::string(key));
            }
        } else {
            unquoted(value);
        }
        skip_line();
        values_.insert_or_assign(std::string(key), std::move(value));
        return core::ok();
    }

    // After the opening quote; false when the text ends first.
    bool double_quoted(std::string& value) {
        ++pos_;
        while (!at_end()) {
            char c = text_[pos_++];
            if (c == '"') {
                return true;
            }
            if (c == '\n') {
                ++line_;
            }
            if (c == '\\' && !at_end()) {
                value += unescape(text_[pos_++]);
                continue;
            }
            if (c == '$' && interpolate(value)) {
                continue;
            }
            value += c;
        }
        return false;
    }

    std::string unescape(char c) {
        switch (c) {
        case 'n':
            return "\n";
        case 'r':
            return "\r";
        case 't':
            return "\t";
        case '"':
        case '\\':
        case '$':
            return std::string(1, c);
        default:
            // phpdotenv rejects other escapes; keeping them verbatim is kinder to values such as
            // Windows paths and loses nothing a working Laravel .env could contain.
            if (c == '\n') {
                ++line_;
            }
            return std::string{'\\', c};
        }
    }

    bool single_quoted(std::string& value) {
        ++pos_;
        while (!at_end()) {
            char c = text_[pos_++];
            if (c == '\'') {
                return true;
            }
            if (c == '\n') {
                ++line_;
            }
            value += c;
        }
        return false;
    }

    void unquoted(std::string& value) {
        while (!at_line_end()) {
            char c = peek();
            // A '#' starts a comment only at the start or after a blank, so "pa#ss" stays whole.
            if (c == '#' && (value.empty() || is_blank(value.back()))) {
                break;
            }
            ++pos_;
            if (c == '$' && interpolate(value)) {
                continue;
            }
            value += c;
        }
        while (!value.empty() && is_blank(value.back())) {
            value.pop_back();
        }
    }

    // Just past a '$': appends ${NAME}'s value and returns true, or returns false (the '$' is then
    // literal) when no well-formed ${NAME} follows.
    bool interpolate(std::string& value) {
        if (at_end() || peek() != '{') {
            return false;
        }
        std::size_t close = pos_ + 1;
        while (close < text_.size() && is_name_char(text_[close])) {
            ++close;
        }
        if (close == pos_ + 1 || close >= text_.size() || text_[close] != '}') {
            return false;
        }
        std::string_view ref = text_.substr(pos_ + 1, close - pos_ - 1);
        pos_ = close + 1;
        // The process environment wins over the file here too, so a value interpolated from an
        // overridden key sees the value the server will actually use.
        if (auto it = process_env_.find(ref); it != process_env_.end()) {
            value += it->second;
        } else if (auto own = values_.find(ref); own != values_.end()) {
            value += own->second;
        }
        return true;
    }

    std::string_view text_;
    const variables& process_env_;
    variables& values_;
    std::size_t pos_ = 0;
    unsigned line_ = 1;
};

// Windows editors save .env files with CRLF; a stray '\r' would otherwise end up in secrets.
std::string without_carriage_returns(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            continue;
        }
        out += text[i];
    }
    return out;
}

} // namespace

core::result<variables> parse_dotenv(std::string_view text, const variables& process_env) {
    // A UTF-8 byte-order mark would otherwise glue itself to the first key.
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    if (text.starts_with(bom)) {
        text.remove_prefix(bom.size());
    }
    std::string clean = without_carriage_returns(text);
    variables values;
    if (core::status s = dotenv_parser(clean, process_env, values).run(); !s) {
        return s;
    }
    return values;
}

} // namespace ringcast::config
