// TLS settings read alike from the command line, the environment and the JSON file: the
// minimum version, the --tls-* flags (certificates paired by position), and the checks made once
// every source is read. Certificate and key files are not opened here: the server loads them at
// start (and on SIGHUP) and names the file that fails then.
#include "detail.h"

#include <utility>

namespace ringcast::config::detail {
namespace {

// The flags that take a path or a text as is; null for the others.
std::optional<std::string>* text_flag(std::string_view name, tls_flags& out) {
    if (name == "--tls-client-ca") {
        return &out.client_ca;
    }
    if (name == "--tls-ciphers") {
        return &out.ciphers;
    }
    if (name == "--tls-host") {
        return &out.host;
    }
    return nullptr;
}

// A file name, a number or a version (anything but a passphrase or a text taken as is); false
// when the value is not one.
bool set_checked_flag(std::string_view name, std::string_view value, tls_flags& out) {
    if (name == "--tls-cert" || name == "--tls-key") {
        (name == "--tls-cert" ? out.certs : out.keys).emplace_back(value);
        return !value.empty();
    }
    if (name == "--tls-min-version") {
        out.min_version = parse_tls_version(value);
        return out.min_version.has_value();
    }
    if (name == "--tls-ktls") {
        out.ktls = parse_ktls(value);
        return out.ktls.has_value();
    }
    std::optional<std::uint64_t> n = parse_number(value, 1, name == "--tls-port" ? 65535 : max_u32);
    if (n && name == "--tls-port") {
        out.port = static_cast<std::uint16_t>(*n);
    } else if (n) {
        out.max_handshakes = static_cast<std::uint32_t>(*n);
    }
    return n.has_value();
}

// "--tls-cert given 2 times but --tls-key once" and the like.
std::string times(std::size_t n) {
    return n == 1 ? "once" : std::to_string(n) + " times";
}

// The certificates of --tls-cert, --tls-key and --tls-passphrase, paired by position.
core::result<std::vector<tls_certificate>> flag_certificates(const tls_flags& flags) {
    if (flags.certs.empty() != flags.keys.empty()) {
        return core::failure(flags.certs.empty() ? "--tls-key: needs --tls-cert too"
                                                 : "--tls-cert: needs --tls-key too");
    }
    if (flags.certs.size() != flags.keys.size()) {
        return core::failure("--tls-cert given " + times(flags.certs.size()) + " but --tls-key " +
                             times(flags.keys.size()) +
                             ": the Nth --tls-key is the key of the Nth --tls-cert");
    }
    std::size_t passphrases = flags.passphrases.size();
    if (passphrases != 0 && flags.certs.empty()) {
        return core::failure("--tls-passphrase: needs --tls-cert and --tls-key too");
    }
    if (passphrases > 1 && passphrases != flags.certs.size()) {
        return core::failure("--tls-passphrase given " + times(passphrases) + " for " +
                             std::to_string(flags.certs.size()) +
                             " certificates: give one for every key, or one per --tls-cert in their order");
    }
    std::vector<tls_certificate> out;
    for (std::size_t i = 0; i < flags.certs.size(); ++i) {
        std::string passphrase = passphrases == 0 ? "" : flags.passphrases[passphrases == 1 ? 0 : i];
        out.push_back({flags.certs[i], flags.keys[i], std::move(passphrase)});
    }
    return out;
}

// An address every interface's port is bound on: it overlaps any other address.
bool is_wildcard(std::string_view host) {
    return host == "0.0.0.0" || host == "::" || host == "[::]";
}

} // namespace

std::optional<std::string> parse_tls_version(std::string_view text) {
    if (text.size() > 4 && equals_lowercase(text.substr(0, 4), "tlsv")) {
        text.remove_prefix(4);
    }
    if (text == "1.2" || text == "1.3") {
        return std::string(text);
    }
    return std::nullopt;
}

std::optional<bool> parse_ktls(std::string_view text) {
    if (equals_lowercase(text, "auto")) {
        return true;
    }
    if (equals_lowercase(text, "off")) {
        return false;
    }
    return std::nullopt;
}

core::status set_tls_flag(std::string_view name, std::string_view wanted, std::string_view value,
                          tls_flags& out) {
    if (name == "--tls-passphrase") {
        // Any text, "" too (an unencrypted key among encrypted ones); never echoed.
        out.passphrases.emplace_back(value);
        return core::ok();
    }
    if (std::optional<std::string>* field = text_flag(name, out)) {
        if (name == "--tls-host" && value.empty()) {
            return core::failure("--tls-host: expected " + std::string(wanted) + ", got \"\"");
        }
        *field = std::string(value);
        return core::ok();
    }
    if (!set_checked_flag(name, value, out)) {
        return core::failure(std::string(name) + ": expected " + std::string(wanted) + ", got " +
                             in_quotes(value));
    }
    return core::ok();
}

core::status apply_tls_flags(const tls_flags& flags, tls_settings& out, tls_sources& names) {
    core::result<std::vector<tls_certificate>> certificates = flag_certificates(flags);
    if (!certificates) {
        return certificates.error();
    }
    if (!certificates->empty()) {
        out.certificates = std::move(*certificates);
    }
    const std::pair<std::string_view, const std::optional<std::string>*> texts[] = {
        {"--tls-client-ca", &flags.client_ca},
        {"--tls-min-version", &flags.min_version},
        {"--tls-ciphers", &flags.ciphers},
        {"--tls-host", &flags.host}};
    std::string* fields[] = {&out.client_ca_file, &out.min_version, &out.ciphers, &out.host};
    for (std::size_t i = 0; i < std::size(texts); ++i) {
        if (*texts[i].second) {
            *fields[i] = **texts[i].second;
            names.setting = texts[i].first;
        }
    }
    if (flags.max_handshakes) {
        out.max_handshakes = *flags.max_handshakes;
        names.setting = "--tls-max-handshakes";
    }
    if (flags.ktls) {
        out.ktls = *flags.ktls;
        names.setting = "--tls-ktls";
    }
    if (flags.port) {
        out.port = *flags.port;
        names.setting = names.port = "--tls-port";
    }
    return core::ok();
}

core::status check_tls(const server& s, const tls_sources& names) {
    if (!s.tls.enabled()) {
        if (!names.setting.empty()) {
            return core::failure(names.setting +
                                 " given but no certificate: set --tls-cert/--tls-key or SSL_CERT/SSL_KEY");
        }
        return core::ok();
    }
    std::string_view host = s.tls.host.empty() ? std::string_view(s.host) : std::string_view(s.tls.host);
    bool same_address = host == s.host || is_wildcard(host) || is_wildcard(s.host);
    if (s.tls.port != 0 && s.tls.port == s.port && same_address) {
        return core::failure(names.port + ": the TLS port must differ from the plain one (" +
                             std::to_string(s.port) + " on " + s.host +
                             "); leave it out to serve TLS on the main port");
    }
    return core::ok();
}

} // namespace ringcast::config::detail
