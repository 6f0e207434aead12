// The few digests the protocols need, wrapped around OpenSSL: HMAC-SHA256 for Pusher
// signatures, MD5 for REST body_md5, SHA-1 + base64 for the WebSocket accept key.
#pragma once

#include <string>
#include <string_view>

namespace ringcast::core {

// Lower-case hex of HMAC-SHA256(key, message), 64 characters.
[[nodiscard]] std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// Lower-case hex of MD5(data), 32 characters.
[[nodiscard]] std::string md5_hex(std::string_view data);
// Lower-case hex of SHA-1(data), 40 characters (the name Redis gives a loaded script).
[[nodiscard]] std::string sha1_hex(std::string_view data);
// base64(SHA-1(data)), as the WebSocket handshake needs.
[[nodiscard]] std::string sha1_base64(std::string_view data);
// `bytes` random bytes from OpenSSL's CSPRNG as lower-case hex (a generated token).
[[nodiscard]] std::string random_hex(std::size_t bytes);
// Compares in time that depends only on the lengths, so a signature check leaks nothing.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

} // namespace ringcast::core
