// A parsed HTTP/1.1 request, owned strings (the receive buffer it came from is recycled at once).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringcast::http {

struct request {
    std::string method;
    std::string target;                                       // as sent: path plus optional "?query"
    std::vector<std::pair<std::string, std::string>> headers; // names lower-cased
    std::string body;
    bool upgrade = false;    // llhttp saw Connection: upgrade + Upgrade
    bool keep_alive = false; // HTTP/1.1 default, or Connection: keep-alive on 1.0

    // First header with this lower-case name, or "" when absent.
    std::string_view header(std::string_view lower_name) const noexcept {
        for (const auto& [k, v] : headers) {
            if (k == lower_name) {
                return v;
            }
        }
        return {};
    }
    std::string_view path() const noexcept {
        std::string_view t = target;
        return t.substr(0, t.find('?'));
    }
    std::string_view query() const noexcept {
        std::string_view t = target;
        size_t q = t.find('?');
        return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
    }
};

} // namespace ringcast::http
