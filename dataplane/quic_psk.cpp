#include "dataplane/quic_psk.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <stdexcept>

namespace arsync::dataplane {

PskKey generate_psk_key() {
  PskKey key;
  if (int rv = gnutls_rnd(GNUTLS_RND_KEY, key.data(), key.size()); rv != 0)
    throw std::runtime_error(std::string("cannot generate a session key: ") + gnutls_strerror(rv));
  return key;
}

std::string psk_to_hex(const PskKey& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * key.size());
  for (uint8_t b : key) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  return hex;
}

std::optional<PskKey> psk_from_hex(std::string_view hex) {
  if (hex.size() != 2 * kPskSize) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  PskKey key;
  for (size_t i = 0; i < kPskSize; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return key;
}

}  // namespace arsync::dataplane
