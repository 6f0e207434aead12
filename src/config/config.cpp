// load(): the command line, the environment, the .env file and the JSON file, merged once.
#include "detail.h"

#include "ringcast/core/log.h"

#include <utility>

namespace ringcast::config {
namespace {

variables read_process_environment(const char* const* envp) {
    variables out;
    for (const char* const* entry = envp; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view text = *entry;
        std::size_t eq = text.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            continue;
        }
        // The first of duplicate entries wins, as with getenv().
        out.emplace(text.substr(0, eq), text.substr(eq + 1));
    }
    return out;
}

// Fills `out` from every source, lowest precedence first so each source simply overwrites:
// defaults, JSON file, .env, process environment (both via env lookups), flags.
std::string settle(const detail::flags& flags, const char* const* envp, server& out) {
    variables process_env = read_process_environment(envp);
    variables dotenv;
    if (flags.env_file) {
        std::string problem;
        std::optional<std::string> text = detail::read_file(*flags.env_file, problem);
        if (!text) {
            return "--env: cannot read " + *flags.env_file + ": " + problem;
        }
        dotenv_result parsed = parse_dotenv(*text, process_env);
        if (!parsed.error.empty()) {
            return *flags.env_file + ": " + parsed.error;
        }
        dotenv = std::move(parsed.values);
    }

    bool json_apps = false;
    if (flags.config_file) {
        if (std::string e = detail::read_json_config(*flags.config_file, out, json_apps); !e.empty()) {
            return e;
        }
    }

    const detail::environment env{process_env, dotenv, flags.env_file.value_or("")};
    if (std::string e = detail::apply_server_environment(env, out); !e.empty()) {
        return e;
    }

    if (flags.host) {
        out.host = *flags.host;
    }
    if (flags.port) {
        out.port = *flags.port;
    }
    if (flags.path) {
        out.path = *flags.path;
    }
    if (flags.hostname) {
        out.hostname = *flags.hostname;
    }
    if (flags.debug) {
        out.debug = true;
    }
    if (flags.threads) {
        out.threads = *flags.threads;
    }

    if (json_apps) {
        out.apps_source = "config file";
        if (detail::names_an_app(env)) {
            // Not an error: a Laravel .env names the app its broadcaster uses, and the JSON file
            // may list it among others. But say so, in case the user expected the .env app.
            RC_LOG_WARN("REVERB_APP_ID/KEY/SECRET are ignored: the apps come from %s",
                        flags.config_file->c_str());
        }
        return {};
    }
    return detail::apply_app_environment(env, out);
}

} // namespace

load_result load(int argc, const char* const* argv, const char* const* envp) {
    load_result result;
    detail::cli_result cli = detail::parse_command_line(argc, argv);
    if (!cli.error.empty()) {
        result.error = std::move(cli.error);
        return result;
    }
    command_line cmd;
    cmd.what = cli.what;
    if (cmd.what == command_line::action::help) {
        cmd.help_text = usage();
    }
    if (cmd.what == command_line::action::start) {
        if (std::string e = settle(cli.values, envp, cmd.settings); !e.empty()) {
            result.error = std::move(e);
            return result;
        }
    }
    result.value = std::move(cmd);
    return result;
}

} // namespace ringcast::config
