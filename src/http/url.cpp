// Percent-decoding and query splitting.
#include "ringcast/http/url.h"

#include "ringcast/core/percent.h"

namespace ringcast::http {

std::optional<std::string> percent_decode(std::string_view in) {
    return core::percent_decode(in, true);
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        size_t eq = part.find('=');
        auto key = percent_decode(part.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
        if (!key || !value) {
            return std::nullopt;
        }
        out.emplace_back(std::move(*key), std::move(*value));
    }
    return out;
}

} // namespace ringcast::http
