// `ringcast doctor`: runs the checks and prints one verdict per line.
#include "ringcast/doctor/doctor.h"

#include <cstdio>

namespace ringcast::doctor {
namespace {

void print(const verdict& v) {
    const char* label = v.what == verdict::kind::ok     ? "ok  "
                        : v.what == verdict::kind::warn ? "warn"
                        : v.what == verdict::kind::skip ? "skip"
                                                        : "FAIL";
    if (v.fix.empty()) {
        std::printf("%s  %s\n", label, v.subject.c_str());
    } else {
        std::printf("%s  %s -> fix: %s\n", label, v.subject.c_str(), v.fix.c_str());
    }
}

} // namespace

int run(const std::string& env_file, const char* const* envp) {
    core::result<config::variables> vars = read_env(env_file, envp);
    if (!vars) {
        std::printf(
            "FAIL  %s -> fix: give the Laravel app's .env (ringcast doctor --env /var/www/app/.env)\n",
            vars.error().message().c_str());
        return 1;
    }
    broadcaster b;
    std::vector<verdict> all = check_settings(*vars, env_file, b);
    bool usable = !b.host.empty() && !b.key.empty() && !b.app_id.empty() && !b.secret.empty();
    if (usable) {
        std::vector<verdict> server = check_server(b);
        all.insert(all.end(), server.begin(), server.end());
    } else {
        all.push_back(
            {verdict::kind::skip, "the server checks: the .env lacks the host or the app credentials", {}});
    }
    int failures = 0;
    for (const verdict& v : all) {
        print(v);
        failures += v.what == verdict::kind::fail ? 1 : 0;
    }
    std::printf("%d check%s failed\n", failures, failures == 1 ? "" : "s");
    std::fflush(stdout);
    return failures == 0 ? 0 : 1;
}

} // namespace ringcast::doctor
