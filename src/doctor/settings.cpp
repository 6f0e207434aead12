// The doctor's checks on the .env alone: the broadcaster, its credentials and address, the
// VITE_* copies Echo is built with, and typos known to circulate.
#include "ringcast/config/config.h"
#include "ringcast/doctor/doctor.h"

#include <fstream>
#include <sstream>

namespace ringcast::doctor {
namespace {

using kind = verdict::kind;

std::string get(const config::variables& vars, const std::string& name) {
    auto it = vars.find(name);
    return it == vars.end() ? std::string{} : it->second;
}

// BROADCAST_CONNECTION (Laravel 11+) or BROADCAST_DRIVER (before): reverb or pusher.
verdict check_connection(const config::variables& vars, const std::string& file, broadcaster& b) {
    b.connection = get(vars, "BROADCAST_CONNECTION");
    std::string name = "BROADCAST_CONNECTION";
    if (b.connection.empty()) {
        b.connection = get(vars, "BROADCAST_DRIVER");
        name = "BROADCAST_DRIVER";
    }
    if (b.connection == "reverb" || b.connection == "pusher") {
        b.prefix = b.connection == "reverb" ? "REVERB_" : "PUSHER_";
        return {kind::ok, name + "=" + b.connection, {}};
    }
    b.prefix = "REVERB_";
    return {kind::fail,
            "BROADCAST_CONNECTION is " +
                (b.connection.empty() ? "not set in " + file : "\"" + b.connection + "\""),
            "set BROADCAST_CONNECTION=reverb (or pusher): Laravel broadcasts through it to ringcast"};
}

// REVERB_REVERB_PORT and friends: a doubled prefix that a widely read tutorial printed.
std::vector<verdict> check_typos(const config::variables& vars, const std::string& file) {
    std::vector<verdict> out;
    for (const auto& [name, value] : vars) {
        for (const std::string doubled : {"REVERB_REVERB_", "PUSHER_PUSHER_"}) {
            std::size_t at = name.find(doubled);
            if (at != std::string::npos) {
                std::string meant = name.substr(0, at) + name.substr(at + doubled.size() / 2);
                out.push_back({kind::fail,
                               name + "=" + value + " in " + file + " is a typo: nothing reads it",
                               "rename it to " + meant});
            }
        }
    }
    return out;
}

verdict check_present(const config::variables& vars, const std::string& file, const std::string& name,
                      std::string& out) {
    out = get(vars, name);
    if (out.empty()) {
        return {kind::fail, name + " is missing from " + file,
                "set it to the value the server's app has (its REVERB_APP_* or --config app)"};
    }
    return {kind::ok, name + " is set", {}};
}

// Laravel's defaults for a missing port and scheme are 443 and https (config/broadcasting.php).
std::vector<verdict> check_address(const config::variables& vars, const std::string& file, broadcaster& b) {
    std::vector<verdict> out;
    std::string p = b.prefix;
    b.host = get(vars, p + "HOST");
    if (b.host.empty()) {
        out.push_back(
            {kind::fail, p + "HOST is missing from " + file,
             "set it to the host the app reaches ringcast at (e.g. localhost, or your domain behind nginx)"});
    }
    std::string port = get(vars, p + "PORT");
    char* end = nullptr;
    unsigned long n = port.empty() ? 443 : std::strtoul(port.c_str(), &end, 10);
    if (!port.empty() && (*end != '\0' || n == 0 || n > 65535)) {
        out.push_back(
            {kind::fail, p + "PORT=" + port + " is not a port", "set it to a number from 1 to 65535"});
    }
    b.port = static_cast<std::uint16_t>(n);
    std::string scheme = get(vars, p + "SCHEME");
    b.scheme = scheme.empty() ? "https" : scheme;
    if (b.scheme != "http" && b.scheme != "https") {
        out.push_back(
            {kind::fail, p + "SCHEME=" + scheme + " is neither http nor https", "set it to http or https"});
    }
    if (out.empty()) {
        out.push_back({kind::ok,
                       "the app publishes to " + b.scheme + "://" + b.host + ":" + std::to_string(b.port) +
                           (port.empty() || scheme.empty() ? " (Laravel's default for what is not set)" : ""),
                       {}});
    }
    return out;
}

// Echo is built with VITE_{prefix}APP_KEY/HOST/PORT/SCHEME, usually "${REVERB_...}" copies.
std::vector<verdict> check_vite_copies(const config::variables& vars, const std::string& file,
                                       const broadcaster& b) {
    std::vector<verdict> out;
    for (const std::string field : {"APP_KEY", "HOST", "PORT", "SCHEME"}) {
        std::string name = b.prefix + field, vite = "VITE_" + name;
        std::string value = get(vars, name), copy = get(vars, vite);
        auto it = vars.find(vite);
        if (it == vars.end()) {
            out.push_back({kind::fail,
                           vite + " is missing from " + file + ": the browser's Echo does not get it",
                           "add " + vite + "=\"${" + name + "}\" and rebuild the assets (npm run build)"});
        } else if (copy != value) {
            // A different key is always wrong; a different address can be meant (browsers through
            // a proxy, the app straight to the server).
            out.push_back(
                {field == "APP_KEY" ? kind::fail : kind::warn,
                 vite + "=" + copy + " differs from " + name + "=" + value,
                 field == "APP_KEY"
                     ? "set " + vite + "=\"${" + name + "}\": browsers would connect with another key"
                     : "unless browsers reach the server another way than the app does, set " + vite +
                           "=\"${" + name + "}\""});
        } else {
            out.push_back({kind::ok, vite + " matches " + name, {}});
        }
    }
    return out;
}

} // namespace

core::result<config::variables> read_env(const std::string& file, const char* const* envp) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return core::failure("cannot read " + file);
    }
    std::stringstream text;
    text << in.rdbuf();
    config::variables process;
    for (const char* const* e = envp; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry = *e;
        if (std::size_t eq = entry.find('='); eq != std::string_view::npos && eq > 0) {
            process.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        }
    }
    core::result<config::variables> vars = config::parse_dotenv(text.str(), process);
    if (!vars) {
        return core::failure(file + ": " + vars.error().message());
    }
    // The process environment wins over the file, as with Laravel's env().
    for (auto& [name, value] : process) {
        if (vars->count(name) != 0) {
            (*vars)[name] = value;
        }
    }
    return vars;
}

std::vector<verdict> check_settings(const config::variables& vars, const std::string& env_file,
                                    broadcaster& out) {
    out.env_file = env_file;
    std::vector<verdict> all{check_connection(vars, env_file, out)};
    auto append = [&all](std::vector<verdict> more) { all.insert(all.end(), more.begin(), more.end()); };
    append(check_typos(vars, env_file));
    all.push_back(check_present(vars, env_file, out.prefix + "APP_ID", out.app_id));
    all.push_back(check_present(vars, env_file, out.prefix + "APP_KEY", out.key));
    all.push_back(check_present(vars, env_file, out.prefix + "APP_SECRET", out.secret));
    append(check_address(vars, env_file, out));
    append(check_vite_copies(vars, env_file, out));
    return all;
}

} // namespace ringcast::doctor
