#include "dataplane/quic_tls.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstring>
#include <stdexcept>

namespace arsync::dataplane {

namespace {

// TLS 1.3 only; AEADs QUIC can use; key exchange by PSK with (EC)DHE, so a leaked session
// key does not expose recorded traffic (plain PSK is deliberately absent). The compat mode
// must be off for QUIC (RFC 9001, section 8.4).
constexpr char kPriority[] =
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
    "+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-PSK:+DHE-PSK:-GROUP-ALL:+GROUP-X25519:"
    "+GROUP-SECP256R1";

void check(int rv, const char* what) {
  if (rv < 0) throw std::runtime_error(std::string(what) + ": " + gnutls_strerror(rv));
}

gnutls_datum_t datum_of(std::string_view s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
          static_cast<unsigned>(s.size())};
}

// GnuTLS asks the server for the key of the identity the client named.
int lookup_server_key(gnutls_session_t session, const gnutls_datum_t* identity,
                      gnutls_datum_t* key) {
  auto* link = static_cast<TlsSessionLink*>(gnutls_session_get_ptr(session));
  if (link == nullptr || identity == nullptr || identity->size != kPskIdentity.size() ||
      std::memcmp(identity->data, kPskIdentity.data(), kPskIdentity.size()) != 0)
    return -1;
  key->data = static_cast<unsigned char*>(gnutls_malloc(kPskSize));
  if (key->data == nullptr) return -1;
  std::memcpy(key->data, link->key.data(), kPskSize);
  key->size = kPskSize;
  return 0;
}

TlsSession make_session(unsigned flags, const PskCredentials& credentials, TlsSessionLink& link) {
  gnutls_session_t raw = nullptr;
  // No tickets: every session has a fresh key, so there is nothing to resume.
  check(gnutls_init(&raw, flags | GNUTLS_NO_TICKETS), "gnutls_init");
  TlsSession session(raw);
  bool server = (flags & GNUTLS_SERVER) != 0;
  if ((server ? ngtcp2_crypto_gnutls_configure_server_session(raw)
              : ngtcp2_crypto_gnutls_configure_client_session(raw)) != 0)
    throw std::runtime_error("cannot configure the TLS session for QUIC");
  check(gnutls_priority_set_direct(raw, kPriority, nullptr), "gnutls_priority_set_direct");
  credentials.attach_to(raw);
  gnutls_datum_t alpn = datum_of(kQuicAlpn);
  check(gnutls_alpn_set_protocols(
            raw, &alpn, 1,
            server ? GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE : GNUTLS_ALPN_MANDATORY),
        "gnutls_alpn_set_protocols");
  gnutls_session_set_ptr(raw, &link);
  return session;
}

}  // namespace

PskCredentials PskCredentials::for_client(const PskKey& key) {
  gnutls_psk_client_credentials_t raw = nullptr;
  check(gnutls_psk_allocate_client_credentials(&raw), "gnutls_psk_allocate_client_credentials");
  PskCredentials credentials;
  credentials.client_.reset(raw);
  gnutls_datum_t identity = datum_of(kPskIdentity);
  gnutls_datum_t secret{const_cast<unsigned char*>(key.data()), static_cast<unsigned>(key.size())};
  check(gnutls_psk_set_client_credentials2(raw, &identity, &secret, GNUTLS_PSK_KEY_RAW),
        "gnutls_psk_set_client_credentials2");
  return credentials;
}

PskCredentials PskCredentials::for_server() {
  gnutls_psk_server_credentials_t raw = nullptr;
  check(gnutls_psk_allocate_server_credentials(&raw), "gnutls_psk_allocate_server_credentials");
  PskCredentials credentials;
  credentials.server_.reset(raw);
  gnutls_psk_set_server_credentials_function2(raw, lookup_server_key);
  return credentials;
}

void PskCredentials::attach_to(gnutls_session_t session) const {
  void* credentials =
      client_ ? static_cast<void*>(client_.get()) : static_cast<void*>(server_.get());
  check(gnutls_credentials_set(session, GNUTLS_CRD_PSK, credentials), "gnutls_credentials_set");
}

TlsSession make_client_tls_session(const PskCredentials& credentials, TlsSessionLink& link) {
  return make_session(GNUTLS_CLIENT, credentials, link);
}

TlsSession make_server_tls_session(const PskCredentials& credentials, TlsSessionLink& link) {
  return make_session(GNUTLS_SERVER, credentials, link);
}

bool negotiated_quic_alpn(gnutls_session_t session) {
  gnutls_datum_t selected{};
  if (gnutls_alpn_get_selected_protocol(session, &selected) != 0) return false;
  return std::string_view(reinterpret_cast<const char*>(selected.data), selected.size) == kQuicAlpn;
}

std::string describe_tls_alert(uint8_t alert) {
  const char* name = gnutls_alert_get_name(static_cast<gnutls_alert_description_t>(alert));
  return std::to_string(alert) + (name ? std::string(" (") + name + ")" : std::string());
}

}  // namespace arsync::dataplane
