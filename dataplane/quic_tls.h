// TLS 1.3 for the QUIC handshake: ECDHE with an external pre-shared key (no certificates),
// ALPN "arsync/1". A peer without the session key cannot complete the handshake.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "dataplane/quic_psk.h"

namespace arsync::dataplane {

inline constexpr std::string_view kQuicAlpn = "arsync/1";
// The PSK identity both ends use; the key, not the name, is the secret.
inline constexpr std::string_view kPskIdentity = "arsync";

// What a GnuTLS session's user pointer designates. ngtcp2's crypto helpers read that pointer
// as an ngtcp2_crypto_conn_ref, so conn_ref must stay the first member of this
// standard-layout struct (both then have the same address); the server's PSK lookup finds
// the key beside it.
struct TlsSessionLink {
  ngtcp2_crypto_conn_ref conn_ref{};
  PskKey key{};
};
static_assert(std::is_standard_layout_v<TlsSessionLink>);

struct TlsSessionDeleter {
  void operator()(gnutls_session_t session) const noexcept { gnutls_deinit(session); }
};
using TlsSession = std::unique_ptr<std::remove_pointer_t<gnutls_session_t>, TlsSessionDeleter>;

// GnuTLS PSK credentials of one side. A session keeps a pointer to them: they must outlive
// the sessions they are attached to.
class PskCredentials {
 public:
  // The client presents kPskIdentity with this key.
  static PskCredentials for_client(const PskKey& key);
  // The server looks the key up in the session's TlsSessionLink.
  static PskCredentials for_server();

  void attach_to(gnutls_session_t session) const;

 private:
  struct ClientDeleter {
    void operator()(gnutls_psk_client_credentials_t c) const noexcept {
      gnutls_psk_free_client_credentials(c);
    }
  };
  struct ServerDeleter {
    void operator()(gnutls_psk_server_credentials_t c) const noexcept {
      gnutls_psk_free_server_credentials(c);
    }
  };
  std::unique_ptr<std::remove_pointer_t<gnutls_psk_client_credentials_t>, ClientDeleter> client_;
  std::unique_ptr<std::remove_pointer_t<gnutls_psk_server_credentials_t>, ServerDeleter> server_;
};

// A session configured for QUIC with ngtcp2's GnuTLS helper: TLS 1.3 only, (EC)DHE-PSK
// only, ALPN kQuicAlpn mandatory, no session tickets. `link` must outlive the session.
// Throws std::runtime_error if GnuTLS refuses a setting.
TlsSession make_client_tls_session(const PskCredentials& credentials, TlsSessionLink& link);
TlsSession make_server_tls_session(const PskCredentials& credentials, TlsSessionLink& link);

// Whether the completed handshake agreed on kQuicAlpn.
bool negotiated_quic_alpn(gnutls_session_t session);

// "47 (Illegal parameter)" for a TLS alert number.
std::string describe_tls_alert(uint8_t alert);

}  // namespace arsync::dataplane
