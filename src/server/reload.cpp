// Folding a reloaded configuration into the running one (see reload.h).
#include "ringcast/server/reload.h"

namespace ringcast::server {

config::server merge_reload(const config::server& running, const config::server& loaded, std::string& log) {
    config::server next = running;
    next.apps.clear();
    if (loaded.host != running.host || loaded.port != running.port || loaded.path != running.path ||
        loaded.threads != running.threads) {
        log += "host, port, path and threads are unchanged until a restart\n";
    }
    if (loaded.webhooks != running.webhooks) {
        log += "server.webhooks settings are unchanged until a restart (each app's targets are reloaded)\n";
    }
    std::vector<bool> used(loaded.apps.size(), false);
    for (const config::app& old : running.apps) {
        bool found = false;
        for (size_t i = 0; i < loaded.apps.size(); ++i) {
            if (loaded.apps[i].id == old.id) {
                next.apps.push_back(loaded.apps[i]);
                used[i] = true;
                found = true;
                break;
            }
        }
        if (!found) {
            // Kept in its slot so indices stay stable; disabled, so it serves nothing.
            config::app gone = old;
            gone.enabled = false;
            gone.removed = true;
            next.apps.push_back(std::move(gone));

            log += "app " + old.id + " removed\n";
        }
    }
    for (size_t i = 0; i < loaded.apps.size(); ++i) {
        if (!used[i]) {
            next.apps.push_back(loaded.apps[i]);
            log += "app " + loaded.apps[i].id + " added\n";
        }
    }
    next.apps_source = loaded.apps_source;
    return next;
}

} // namespace ringcast::server
