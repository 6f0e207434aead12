// The doctor's checks against the server, at the address the app publishes to: reachable (and
// its TLS certificate), the WebSocket handshake with the app key, a signed publish.
#include "ringcast/core/crypto.h"
#include "ringcast/doctor/doctor.h"
#include "ringcast/doctor/probe.h"

#include <ctime>

namespace ringcast::doctor {
namespace {

using kind = verdict::kind;

std::string address(const broadcaster& b) {
    return b.scheme + "://" + b.host + ":" + std::to_string(b.port);
}

std::string request_head(const broadcaster& b, const std::string& method, const std::string& target) {
    return method + " " + target + " HTTP/1.1\r\nHost: " + b.host + ":" + std::to_string(b.port) +
           "\r\nUser-Agent: ringcast-doctor\r\n";
}

// GET /up, and the certificate on the way when https.
std::vector<verdict> check_reachable(const broadcaster& b) {
    std::vector<verdict> out;
    core::result<std::unique_ptr<probe>> p = probe::open(b.host, b.port, b.scheme == "https");
    if (!p && p.error().message().starts_with("TLS")) {
        out.push_back(
            {kind::fail, address(b) + ": " + p.error().message(),
             "with " + b.prefix + "SCHEME=https the port must serve TLS (nginx in front, usually 443); " +
                 "ringcast itself speaks plain http: use " + b.prefix + "SCHEME=http to reach it directly"});
        return out;
    }
    if (!p) {
        out.push_back({kind::fail, "nothing answers at " + address(b) + " (" + p.error().message() + ")",
                       "start the server (ringcast start --env " + b.env_file + "), or set " + b.prefix +
                           "PORT to the port it listens on (REVERB_SERVER_PORT or --port, 8080 by default; " +
                           b.prefix + "PORT is where the app publishes)"});
        return out;
    }
    if (b.scheme == "https") {
        const std::string& problem = (*p)->tls_problem();
        out.push_back(problem.empty()
                          ? verdict{kind::ok, "TLS certificate valid for " + b.host, {}}
                          : verdict{kind::fail, "TLS certificate not valid for " + b.host + ": " + problem,
                                    "install a certificate for " + b.host +
                                        " (e.g. from Let's Encrypt) where TLS ends (nginx or ringcast)"});
    }
    core::result<http_answer> up = (*p)->http(request_head(b, "GET", "/up") + "Connection: close\r\n\r\n");
    if (!up || up->status != 200) {
        out.push_back({kind::fail,
                       address(b) + "/up answered " +
                           (up ? std::to_string(up->status) : up.error().message()) +
                           ": not a ringcast (or Reverb)",
                       "point " + b.prefix + "HOST/" + b.prefix +
                           "PORT at the server, or route /up to it in the proxy"});
        return out;
    }
    out.push_back({kind::ok, "server reachable: " + address(b) + "/up answered 200 " + up->body, {}});
    return out;
}

// The handshake Echo makes, with the key, and the server's first message.
verdict check_websocket(const broadcaster& b) {
    std::string url =
        (b.scheme == "https" ? "wss://" : "ws://") + b.host + ":" + std::to_string(b.port) + "/app/" + b.key;
    core::result<std::unique_ptr<probe>> p = probe::open(b.host, b.port, b.scheme == "https");
    core::result<http_answer> a =
        !p ? core::result<http_answer>(p.error())
           : (*p)->http(request_head(b, "GET", "/app/" + b.key + "?protocol=7&client=doctor&version=1") +
                        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: cmluZ2Nhc3QtZG9jdG9yIQ==\r\n\r\n");
    if (!a || a->status != 101) {
        return {kind::fail,
                "WebSocket handshake at " + url + ": " +
                    (a ? "HTTP " + std::to_string(a->status) : a.error().message()),
                "behind a proxy, forward /app/ with the Upgrade and Connection headers "
                "(deploy/nginx/ringcast.conf)"};
    }
    core::result<std::string> first = (*p)->first_frame();
    if (first && first->find("pusher:connection_established") != std::string::npos) {
        return {kind::ok, "WebSocket handshake at " + url + ": connected", {}};
    }
    std::string said = first ? *first : first.error().message();
    std::string fix = said.find("4001") != std::string::npos
                          ? "the server has no app with key " + b.key + ": " + b.prefix + "APP_KEY in " +
                                b.env_file +
                                " must be the key of one of its apps (REVERB_APP_KEY where the server reads "
                                "it, or its --config file)"
                          : "see the server's log (ringcast start --debug)";
    return {kind::fail, "WebSocket handshake at " + url + ": " + said, fix};
}

// A signed POST /apps/{id}/events, as the Pusher SDK sends it.
verdict check_publish(const broadcaster& b) {
    std::string body = R"({"name":"ringcast-doctor","channel":"ringcast-doctor","data":"{}"})";
    std::string path = "/apps/" + b.app_id + "/events";
    std::string query = "auth_key=" + b.key + "&auth_timestamp=" + std::to_string(std::time(nullptr)) +
                        "&auth_version=1.0&body_md5=" + core::md5_hex(body);
    std::string signature = core::hmac_sha256_hex(b.secret, "POST\n" + path + "\n" + query);
    core::result<std::unique_ptr<probe>> p = probe::open(b.host, b.port, b.scheme == "https");
    core::result<http_answer> a =
        !p ? core::result<http_answer>(p.error())
           : (*p)->http(request_head(b, "POST", path + "?" + query + "&auth_signature=" + signature) +
                        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body);
    if (a && a->status == 200) {
        return {kind::ok, "signed publish: POST " + path + " answered 200", {}};
    }
    std::string said = a ? std::to_string(a->status) + " " + a->body : a.error().message();
    std::string fix =
        !a                 ? "see the server's log"
        : a->status == 404 ? b.prefix + "APP_ID must be the id of one of the server's apps"
        : a->status == 401
            ? b.prefix + "APP_KEY and " + b.prefix +
                  "APP_SECRET must be those of the same app on the server (and the clocks within 600 s)"
            : "see the server's log (ringcast start --debug)";
    return {kind::fail, "signed publish: POST " + path + " answered " + said, fix};
}

} // namespace

std::vector<verdict> check_server(const broadcaster& b) {
    std::vector<verdict> out = check_reachable(b);
    bool reachable = !out.empty() && out.back().what == kind::ok;
    if (!reachable) {
        out.push_back(
            {kind::skip, "WebSocket handshake and signed publish: the server is not reachable", {}});
        return out;
    }
    out.push_back(check_websocket(b));
    out.push_back(check_publish(b));
    return out;
}

} // namespace ringcast::doctor
