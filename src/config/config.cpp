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

// The --env file's variables (none without --env), or why it could not be read.
core::result<variables> read_dotenv(const detail::flags& flags, const variables& process_env) {
    if (!flags.env_file) {
        return variables{};
    }
    core::result<std::string> text = detail::read_file(*flags.env_file);
    if (!text) {
        return core::failure("--env: cannot read " + *flags.env_file + ": " + text.error().message());
    }
    core::result<variables> parsed = parse_dotenv(*text, process_env);
    if (!parsed) {
        return core::failure(*flags.env_file + ": " + parsed.error().message());
    }
    return parsed;
}

void apply_log_flags(const detail::flags& flags, server& out) {
    const std::pair<const std::optional<std::string>*, std::string*> fields[] = {
        {&flags.log_level, &out.log_level},
        {&flags.log_format, &out.log_format},
        {&flags.debug_app, &out.debug_app},
        {&flags.debug_channel, &out.debug_channel},
    };
    for (const auto& [from, to] : fields) {
        if (*from) {
            *to = **from;
        }
    }
}

void apply_flags(const detail::flags& flags, server& out) {
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
    apply_log_flags(flags, out);
    if (flags.metrics_port) {
        out.metrics.port = *flags.metrics_port;
    }
    if (flags.metrics_host) {
        out.metrics.host = *flags.metrics_host;
    }
    if (flags.console_path) {
        out.console.path = *flags.console_path;
    }
    if (flags.console_token) {
        out.console.token = *flags.console_token;
    }
    if (flags.redis) {
        // The URL is the whole connection; the prefix still comes from the other sources.
        std::string prefix = std::move(out.redis.prefix);
        out.redis = *flags.redis;
        out.redis.prefix = std::move(prefix);
        out.redis.enabled = true;
    }
}

// The apps come from the JSON file. Not an error when the environment names one too: a Laravel
// .env names the app its broadcaster uses, and the JSON file may list it among others. But say
// so, in case the user expected the .env app.
void warn_ignored_app_environment(const detail::environment& env, const std::string& config_file) {
    if (detail::names_an_app(env)) {
        RC_LOG_WARN("REVERB_APP_ID/KEY/SECRET are ignored: the apps come from %s", config_file.c_str());
    }
    if (detail::names_a_webhook(env)) {
        RC_LOG_WARN("RINGCAST_WEBHOOK_URL/EVENTS are ignored: the apps (and their webhooks) come from %s",
                    config_file.c_str());
    }
}

// Fills `out` from every source, lowest precedence first so each source simply overwrites:
// defaults, JSON file, .env, process environment (both via env lookups), flags.
core::status settle(const detail::flags& flags, const char* const* envp, server& out) {
    variables process_env = read_process_environment(envp);
    core::result<variables> dotenv = read_dotenv(flags, process_env);
    if (!dotenv) {
        return dotenv.error();
    }

    bool json_apps = false;
    detail::tls_sources tls;
    if (flags.config_file) {
        if (core::status s = detail::read_json_config(*flags.config_file, out, json_apps, tls); !s) {
            return s;
        }
    }

    const detail::environment env{process_env, *dotenv, flags.env_file.value_or("")};
    if (core::status s = detail::apply_server_environment(env, flags.redis.has_value(), out); !s) {
        return s;
    }
    if (core::status s = detail::apply_tls_environment(env, out.tls, tls); !s) {
        return s;
    }
    apply_flags(flags, out);
    if (core::status s = detail::apply_tls_flags(flags.tls, out.tls, tls); !s) {
        return s;
    }
    if (core::status s = detail::check_tls(out, tls); !s) {
        return s;
    }

    if (json_apps) {
        out.apps_source = "config file";
        warn_ignored_app_environment(env, *flags.config_file);
    } else if (core::status s = detail::apply_app_environment(env, out); !s) {
        return s;
    }
    detail::warn_unknown_names(env);
    detail::warn_public_port(env, flags.port.has_value(), out);
    if (out.metrics.enabled() && (out.metrics.port == out.port || out.metrics.port == out.tls.port)) {
        // Bound beside the public listener (SO_REUSEPORT), it would take a share of its clients.
        return core::failure("the metrics port (" + std::to_string(out.metrics.port) +
                             ") must differ from the ports the server serves clients on");
    }
    return detail::refuse_dev_credentials(env, flags, out);
}
} // namespace

core::result<command_line> load(int argc, const char* const* argv, const char* const* envp) {
    core::result<detail::parsed_command> cli = detail::parse_command_line(argc, argv);
    if (!cli) {
        return cli.error();
    }
    command_line cmd;
    cmd.what = cli->what;
    if (cmd.what == command_line::action::help) {
        cmd.help_text = usage();
    }
    if (cmd.what == command_line::action::doctor) {
        if (!cli->values.env_file) {
            return core::failure("doctor: --env FILE is required (the Laravel app's .env)");
        }
        cmd.env_file = *cli->values.env_file;
    }
    if (cmd.what == command_line::action::start || cmd.what == command_line::action::restart) {
        if (core::status s = settle(cli->values, envp, cmd.settings); !s) {
            return s;
        }
    }
    return cmd;
}

} // namespace ringcast::config
