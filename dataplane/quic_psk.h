// The session key that authenticates the QUIC handshake: 32 random bytes the client makes
// for each session and hands to the helper over the already authenticated SSH channel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arsync::dataplane {

inline constexpr size_t kPskSize = 32;
using PskKey = std::array<uint8_t, kPskSize>;

// From GnuTLS's key-grade generator (GNUTLS_RND_KEY). Throws std::runtime_error if it fails.
PskKey generate_psk_key();

// 64 lowercase hex digits, for the control-plane messages that carry the key.
std::string psk_to_hex(const PskKey& key);
// Exactly 64 hex digits (either case), or nullopt.
std::optional<PskKey> psk_from_hex(std::string_view hex);

}  // namespace arsync::dataplane
