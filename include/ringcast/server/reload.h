// SIGHUP: re-read the configuration and fold the new apps into the running ones.
#pragma once

#include "ringcast/config/config.h"

#include <string>

namespace ringcast::server {

// Returns the settings to install: the running server-level settings (listening address,
// threads and limits need a restart), with apps matched by id so each keeps its index; apps no
// longer configured stay in place disabled (their connections are closed); new apps are
// appended. `log` receives one line per change, and a note when something needs a restart.
[[nodiscard]] config::server merge_reload(const config::server& running, const config::server& loaded,
                                          std::string& log);

} // namespace ringcast::server
