// The JSON config file's "server.tls": the default certificate ("cert", "key", "passphrase"),
// the ones chosen by SNI ("certificates"), and the listener and handshake settings, checked by
// the readers the command line and the environment share (tls.cpp).
#include "json_reader.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace ringcast::config::detail::json {
namespace {

// A certificate's keys as read, with the path of each one given ("" = not given), to check the
// pairing once the whole object is read.
struct certificate_keys {
    tls_certificate value;
    std::string cert;
    std::string key;
    std::string passphrase;
};

bool is_certificate_key(std::string_view key) {
    return key == "cert" || key == "key" || key == "passphrase";
}

core::status certificate_field(std::string_view key, element v, const std::string& p, certificate_keys& out) {
    if (key == "passphrase") {
        out.passphrase = p;
        // "" is an unencrypted key, as the default. Never echoed.
        return string(v, p, false, out.value.passphrase);
    }
    bool cert = key == "cert";
    (cert ? out.cert : out.key) = p;
    return string(v, p, true, cert ? out.value.cert_file : out.value.key_file);
}

core::status check_pair(const certificate_keys& c) {
    if (!c.cert.empty() && c.key.empty()) {
        return fail(c.cert, "needs \"key\" too");
    }
    if (!c.key.empty() && c.cert.empty()) {
        return fail(c.key, "needs \"cert\" too");
    }
    if (!c.passphrase.empty() && c.cert.empty()) {
        return fail(c.passphrase, "needs \"cert\" and \"key\" too");
    }
    return core::ok();
}

// One entry of "certificates": {"cert": ..., "key": ..., "passphrase": ...}.
core::status read_certificate(element value, const std::string& path, tls_certificate& out) {
    certificate_keys read;
    core::status s = each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        return is_certificate_key(key) ? certificate_field(key, v, p, read) : unknown(p);
    });
    if (!s) {
        return s;
    }
    if (read.cert.empty() && read.key.empty()) {
        return fail(path, "expected \"cert\" and \"key\"");
    }
    if (s = check_pair(read); !s) {
        return s;
    }
    out = std::move(read.value);
    return core::ok();
}

core::status read_certificates(element value, const std::string& path, std::vector<tls_certificate>& out) {
    simdjson::dom::array list;
    if (value.get_array().get(list) != simdjson::SUCCESS) {
        return fail(path, "expected an array of {\"cert\": ..., \"key\": ...} objects");
    }
    for (element entry : list) {
        std::string entry_path = index(path, out.size());
        if (core::status s = read_certificate(entry, entry_path, out.emplace_back()); !s) {
            return s;
        }
    }
    return core::ok();
}

core::status version(element v, const std::string& p, std::string& out) {
    std::string_view text;
    std::optional<std::string> parsed;
    if (v.get_string().get(text) == simdjson::SUCCESS) {
        parsed = parse_tls_version(text);
    }
    if (!parsed) {
        return fail(p, "expected \"1.2\" or \"1.3\" (or \"TLSv1.2\", \"TLSv1.3\")");
    }
    out = std::move(*parsed);
    return core::ok();
}

core::status ktls(element v, const std::string& p, bool& out) {
    std::string_view text;
    std::optional<bool> parsed;
    if (v.get_string().get(text) == simdjson::SUCCESS) {
        parsed = parse_ktls(text);
    }
    if (!parsed) {
        return fail(p, "expected \"off\" or \"auto\"");
    }
    out = *parsed;
    return core::ok();
}

// The keys other than the certificates.
core::status setting(std::string_view key, element v, const std::string& p, tls_settings& out) {
    if (key == "client_ca") {
        return string(v, p, false, out.client_ca_file);
    }
    if (key == "min_version") {
        return version(v, p, out.min_version);
    }
    if (key == "ciphers") {
        return string(v, p, false, out.ciphers);
    }
    if (key == "port") {
        return number(v, p, 1, 65535, out.port);
    }
    if (key == "host") {
        return string(v, p, true, out.host);
    }
    if (key == "max_handshakes") {
        return number(v, p, 1, max_u32, out.max_handshakes);
    }
    if (key == "ktls") {
        return ktls(v, p, out.ktls);
    }
    return unknown(p);
}

} // namespace

core::status read_tls_settings(element value, const std::string& path, tls_settings& out,
                               tls_sources& names) {
    tls_settings read = out;
    certificate_keys first;
    std::vector<tls_certificate> more;
    bool listed = false;
    tls_sources seen;
    core::status s = each_field(value, path, [&](std::string_view key, element v, const std::string& p) {
        if (is_certificate_key(key)) {
            return certificate_field(key, v, p, first);
        }
        if (key == "certificates") {
            listed = true;
            return read_certificates(v, p, more);
        }
        seen.setting = p;
        seen.port = key == "port" ? p : seen.port;
        return setting(key, v, p, read);
    });
    if (!s) {
        return s;
    }
    if (s = check_pair(first); !s) {
        return s;
    }
    // "cert"/"key" is the default certificate; "certificates" follow it (either alone is fine).
    if (!first.cert.empty() || listed) {
        read.certificates.clear();
        if (!first.cert.empty()) {
            read.certificates.push_back(std::move(first.value));
        }
        std::move(more.begin(), more.end(), std::back_inserter(read.certificates));
    }
    out = std::move(read);
    names.setting = seen.setting.empty() ? names.setting : seen.setting;
    names.port = seen.port.empty() ? names.port : seen.port;
    return core::ok();
}

} // namespace ringcast::config::detail::json
