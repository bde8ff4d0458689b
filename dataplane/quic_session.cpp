#include "dataplane/quic_session.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>

#include "dataplane/quic_error.h"

namespace arsync::dataplane {

namespace {

constexpr size_t kCidLength = 16;
constexpr size_t kInitialDcidLength = 18;
// Batches one send() may write before the loop looks at incoming packets (ACKs free the
// congestion window; a sender that never reads starves itself).
constexpr int kMaxBatchesPerSend = 8;
// After our CONNECTION_CLOSE we answer stray packets with it again for 3 PTO (RFC 9000,
// 10.2), but never longer than this.

ngtcp2_cc_algo to_ngtcp2(CongestionControl cc) {
  switch (cc) {
    case CongestionControl::reno:
      return NGTCP2_CC_ALGO_RENO;
    case CongestionControl::cubic:
      return NGTCP2_CC_ALGO_CUBIC;
    case CongestionControl::bbr:
      return NGTCP2_CC_ALGO_BBR;
    case CongestionControl::bbr2:
      return NGTCP2_CC_ALGO_BBR2;
  }
  return NGTCP2_CC_ALGO_BBR2;
}

void random_bytes(uint8_t* dest, size_t size) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, dest, size) != 0)
    throw QuicError("the random number generator failed");
}

ngtcp2_cid random_cid(size_t length) {
  ngtcp2_cid cid{};
  cid.datalen = length;
  random_bytes(cid.data, length);
  return cid;
}

ngtcp2_settings make_settings(const QuicOptions& options) {
  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = quic_now();
  settings.cc_algo = to_ngtcp2(options.congestion_control);
  // Non-zero turns window autotuning on (it is off by default in 0.12).
  settings.max_window = options.max_connection_window;
  settings.max_stream_window = options.max_stream_window;
  if (options.initial_rtt.count() > 0)
    settings.initial_rtt =
        static_cast<ngtcp2_duration>(options.initial_rtt.count()) * NGTCP2_MICROSECONDS;
  settings.handshake_timeout =
      static_cast<ngtcp2_duration>(options.handshake_timeout.count()) * NGTCP2_MILLISECONDS;
  return settings;
}

ngtcp2_transport_params make_params(const QuicOptions& options) {
  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = options.stream_window;
  params.initial_max_stream_data_bidi_remote = options.stream_window;
  params.initial_max_data = options.connection_window;
  params.initial_max_streams_bidi = options.max_streams;
  // ngtcp2 0.12.1 never closes unidirectional streams the peer opened: allow none.
  params.initial_max_stream_data_uni = 0;
  params.initial_max_streams_uni = 0;
  params.max_idle_timeout =
      static_cast<ngtcp2_duration>(options.idle_timeout.count()) * NGTCP2_MILLISECONDS;
  // One path for the whole session: the helper listens for exactly one client address.
  params.disable_active_migration = 1;
  return params;
}

std::string milliseconds_text(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

// ngtcp2 calls these with the session as user_data. None may throw into C code.
struct QuicSession::Callbacks {
  static QuicSession& self(void* user_data) { return *static_cast<QuicSession*>(user_data); }

  template <typename F>
  static int guarded(F&& f) {
    try {
      return f();
    } catch (const std::exception&) {
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  }

  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<QuicSession*>(ref->user_data)->conn_.get();
  }

  static void rand(uint8_t* dest, size_t size, const ngtcp2_rand_ctx*) {
    // Not used for secrets (ngtcp2 says so); GnuTLS's generator cannot fail after init.
    (void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, size);
  }

  static int new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t length,
                               void*) {
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, length) != 0 ||
        gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
      return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = length;
    return 0;
  }

  static int handshake_completed(ngtcp2_conn*, void* user_data) {
    return guarded([&] { return self(user_data).on_handshake_completed(); });
  }

  static int handshake_confirmed(ngtcp2_conn*, void* user_data) {
    return guarded([&] {
      QuicSession& session = self(user_data);
      // The server is established at completion already; the client waits for
      // HANDSHAKE_DONE, so that a server that refuses late is still a handshake failure.
      if (!session.is_server_ && session.state_ == State::handshake) {
        session.state_ = State::established;
        session.exchange_.on_established();
      }
      return 0;
    });
  }

  static int recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t,
                              const uint8_t* data, size_t size, void* user_data, void*) {
    return guarded([&] {
      self(user_data).exchange_.on_stream_data(stream, {data, size},
                                               (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
      return 0;
    });
  }

  static int acked_stream_data_offset(ngtcp2_conn*, int64_t stream, uint64_t offset,
                                      uint64_t length, void* user_data, void*) {
    return guarded([&] {
      self(user_data).on_ack(stream, offset, length);
      return 0;
    });
  }

  static int stream_open(ngtcp2_conn*, int64_t stream, void* user_data) {
    return guarded([&] {
      self(user_data).exchange_.on_remote_stream_open(stream);
      return 0;
    });
  }

  static int stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream, uint64_t code,
                          void* user_data, void*) {
    return guarded([&] {
      self(user_data).on_stream_close(stream, flags, code);
      return 0;
    });
  }

  static int stream_reset(ngtcp2_conn*, int64_t stream, uint64_t, uint64_t code, void* user_data,
                          void*) {
    return guarded([&] {
      self(user_data).exchange_.on_stream_reset(stream, code);
      return 0;
    });
  }

  static int extend_max_local_streams_bidi(ngtcp2_conn*, uint64_t max_streams, void* user_data) {
    return guarded([&] {
      self(user_data).exchange_.on_local_stream_limit(max_streams);
      return 0;
    });
  }

  static int extend_max_stream_data(ngtcp2_conn*, int64_t stream, uint64_t, void* user_data,
                                    void*) {
    return guarded([&] {
      self(user_data).on_max_stream_data(stream);
      return 0;
    });
  }

  static ngtcp2_callbacks make(bool is_server) {
    ngtcp2_callbacks callbacks{};
    if (is_server) {
      callbacks.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
      callbacks.client_initial = ngtcp2_crypto_client_initial_cb;
      callbacks.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    callbacks.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    callbacks.encrypt = ngtcp2_crypto_encrypt_cb;
    callbacks.decrypt = ngtcp2_crypto_decrypt_cb;
    callbacks.hp_mask = ngtcp2_crypto_hp_mask_cb;
    callbacks.update_key = ngtcp2_crypto_update_key_cb;
    callbacks.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    callbacks.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    callbacks.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    callbacks.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    callbacks.rand = rand;
    callbacks.get_new_connection_id = new_connection_id;
    callbacks.handshake_completed = handshake_completed;
    callbacks.handshake_confirmed = handshake_confirmed;
    callbacks.recv_stream_data = recv_stream_data;
    callbacks.acked_stream_data_offset = acked_stream_data_offset;
    callbacks.stream_open = stream_open;
    callbacks.stream_close = stream_close;
    callbacks.stream_reset = stream_reset;
    callbacks.extend_max_local_streams_bidi = extend_max_local_streams_bidi;
    callbacks.extend_max_stream_data = extend_max_stream_data;
    return callbacks;
  }
};

// ---- construction ----

QuicSession::QuicSession(ConstructionKey, const SocketAddress& local, const SocketAddress& remote,
                         const PskKey& key, const QuicOptions& options, bool is_server)
    : options_(options),
      is_server_(is_server),
      local_(local),
      remote_(remote),
      exchange_(options, is_server),
      buffer_(UdpSocket::kMaxBatchBytes) {
  if (options.max_send_rate > 0) rate_limit_.emplace(options.max_send_rate, quic_now());
  // For measurements: ARSYNC_QUIC_TRACE=MS prints the congestion state every MS ms.
  if (const char* trace = std::getenv("ARSYNC_QUIC_TRACE"); trace != nullptr) {
    trace_every_ = static_cast<QuicTimestamp>(std::strtoull(trace, nullptr, 10)) * 1'000'000;
    trace_start_ = next_trace_ = quic_now();
  }
  link_.conn_ref.get_conn = Callbacks::get_conn;
  link_.conn_ref.user_data = this;
  link_.key = key;
}

QuicSession::~QuicSession() = default;

std::unique_ptr<QuicSession> QuicSession::client(const SocketAddress& local,
                                                 const SocketAddress& remote, const PskKey& key,
                                                 const QuicOptions& options) {
  validate(options);
  auto session = std::make_unique<QuicSession>(ConstructionKey{}, local, remote, key, options,
                                               /*is_server=*/false);
  ngtcp2_cid dcid = random_cid(kInitialDcidLength);
  ngtcp2_cid scid = random_cid(kCidLength);
  ngtcp2_callbacks callbacks = Callbacks::make(false);
  ngtcp2_settings settings = make_settings(options);
  ngtcp2_transport_params params = make_params(options);
  ngtcp2_path path = session->path();
  ngtcp2_conn* conn = nullptr;
  if (int rv = ngtcp2_conn_client_new(&conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &callbacks,
                                      &settings, &params, nullptr, session.get());
      rv != 0)
    throw QuicError(std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv));
  session->conn_.reset(conn);
  session->start_tls();
  return session;
}

std::unique_ptr<QuicSession> QuicSession::server(const SocketAddress& local,
                                                 const SocketAddress& remote,
                                                 const ngtcp2_pkt_hd& initial, const PskKey& key,
                                                 const QuicOptions& options) {
  validate(options);
  auto session = std::make_unique<QuicSession>(ConstructionKey{}, local, remote, key, options,
                                               /*is_server=*/true);
  ngtcp2_cid scid = random_cid(kCidLength);
  ngtcp2_callbacks callbacks = Callbacks::make(true);
  ngtcp2_settings settings = make_settings(options);
  ngtcp2_transport_params params = make_params(options);
  params.original_dcid = initial.dcid;
  params.stateless_reset_token_present = 1;
  random_bytes(params.stateless_reset_token, sizeof(params.stateless_reset_token));
  ngtcp2_path path = session->path();
  ngtcp2_conn* conn = nullptr;
  if (int rv = ngtcp2_conn_server_new(&conn, &initial.scid, &scid, &path, initial.version,
                                      &callbacks, &settings, &params, nullptr, session.get());
      rv != 0)
    throw QuicError(std::string("ngtcp2_conn_server_new: ") + ngtcp2_strerror(rv));
  session->conn_.reset(conn);
  session->start_tls();
  return session;
}

void QuicSession::start_tls() {
  credentials_ = is_server_ ? PskCredentials::for_server() : PskCredentials::for_client(link_.key);
  tls_ = is_server_ ? make_server_tls_session(credentials_, link_)
                    : make_client_tls_session(credentials_, link_);
  ngtcp2_conn_set_tls_native_handle(conn_.get(), tls_.get());
}

ngtcp2_path QuicSession::path() {
  return ngtcp2_path{{local_.get(), local_.size()}, {remote_.get(), remote_.size()}, nullptr};
}

// ---- state ----

bool QuicSession::finished(QuicTimestamp now) const {
  switch (state_) {
    case State::handshake:
    case State::established:
      return false;
    case State::closing:
      return !close_packet_due_ && now >= closing_deadline_;
    case State::draining:
    case State::dead:
      return true;
  }
  return true;
}

QuicTimestamp QuicSession::deadline() const {
  switch (state_) {
    case State::handshake:
    case State::established: {
      QuicTimestamp expiry = ngtcp2_conn_get_expiry(conn_.get());
      // Paced by --bwlimit: wake when the bucket has refilled, if anything waits for it.
      if (rate_limit_ && !ready_.empty()) expiry = std::min(expiry, rate_limit_->ready_at());
      return expiry;
    }
    case State::closing:
      return close_packet_due_ ? 0 : closing_deadline_;
    case State::draining:
    case State::dead:
      return 0;
  }
  return 0;
}

void QuicSession::give_up(const std::string& why) {
  if (state_ == State::draining || state_ == State::dead) return;
  state_ = State::dead;
  exchange_.finish(why);
}

void QuicSession::abort(uint64_t app_error_code, const std::string& why) {
  if (state_ != State::handshake && state_ != State::established) return;
  ngtcp2_connection_close_error_set_application_error(&last_error_, app_error_code, nullptr, 0);
  enter_closing(quic_now(), why);
}

void QuicSession::close_cleanly(QuicTimestamp now) {
  // No closing period: both ends close on their own once the session's completion has
  // crossed the SSH channel, so neither waits for the other's CONNECTION_CLOSE, and a
  // lingering loop only delayed every run's exit by 3 PTO.
  ngtcp2_connection_close_error_set_application_error(&last_error_, 0, nullptr, 0);
  enter_closing(now, "");
}

void QuicSession::enter_closing(QuicTimestamp now, const std::string& why) {
  exchange_.finish(why);
  close_packet_.assign(NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE, 0);
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(
      conn_.get(), &ps.path, &pi, close_packet_.data(), close_packet_.size(), &last_error_, now);
  if (n <= 0) {
    close_packet_.clear();
    state_ = State::dead;
    return;
  }
  close_packet_.resize(static_cast<size_t>(n));
  close_packet_due_ = true;
  state_ = State::closing;
  closing_deadline_ = now;
}

std::string QuicSession::describe_peer_close() const {
  ngtcp2_connection_close_error error{};
  ngtcp2_conn_get_connection_close_error(conn_.get(), &error);
  std::string peer = "the QUIC peer " + remote_.to_string();
  std::string reason;
  if (error.reasonlen > 0)
    reason = ": " + std::string(reinterpret_cast<const char*>(error.reason), error.reasonlen);
  if (error.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
    if (error.error_code == 0 && state_ == State::established) return "";
    return peer + " closed the connection (application error " + std::to_string(error.error_code) +
           ")" + reason;
  }
  if (error.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT) {
    if (error.error_code == NGTCP2_NO_ERROR && state_ == State::established) return "";
    if (error.error_code >= NGTCP2_CRYPTO_ERROR && error.error_code <= NGTCP2_CRYPTO_ERROR + 0xff) {
      std::string alert = describe_tls_alert(static_cast<uint8_t>(error.error_code & 0xff));
      if (state_ == State::handshake)
        return peer + " refused the handshake (TLS alert " + alert +
               "): it does not hold the same session key";
      return peer + " closed the connection (TLS alert " + alert + ")";
    }
    return peer + " closed the connection (transport error " + std::to_string(error.error_code) +
           ")" + reason;
  }
  return peer + " closed the connection";
}

void QuicSession::handle_error(int rv, QuicTimestamp now) {
  switch (rv) {
    case NGTCP2_ERR_DRAINING: {
      std::string why = describe_peer_close();
      state_ = State::draining;
      exchange_.finish(why);
      return;
    }
    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_RETRY:  // we never ask for Retry: a client that needs one is dropped
      give_up("QUIC connection with " + remote_.to_string() + " dropped (" + ngtcp2_strerror(rv) +
              ")");
      return;
    case NGTCP2_ERR_CRYPTO: {
      uint8_t alert = ngtcp2_conn_get_tls_alert(conn_.get());
      ngtcp2_connection_close_error_set_transport_error_tls_alert(&last_error_, alert, nullptr, 0);
      enter_closing(now, std::string(state_ == State::handshake ? "QUIC handshake with "
                                                                : "QUIC connection with ") +
                             remote_.to_string() + " failed: TLS alert " +
                             describe_tls_alert(alert));
      return;
    }
    default:
      ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, rv, nullptr, 0);
      enter_closing(
          now, "QUIC connection with " + remote_.to_string() + " failed: " + ngtcp2_strerror(rv));
      return;
  }
}

int QuicSession::on_handshake_completed() {
  // GnuTLS's mandatory-ALPN flag already refuses a mismatch; this also catches a peer that
  // sent no ALPN at all.
  if (!negotiated_quic_alpn(tls_.get())) return NGTCP2_ERR_CALLBACK_FAILURE;
  if (is_server_ && state_ == State::handshake) {
    state_ = State::established;
    exchange_.on_established();
  }
  return 0;
}

// ---- input ----

void QuicSession::receive(std::span<const uint8_t> datagram, QuicTimestamp now) {
  if (state_ == State::closing) {
    // The peer did not get our CONNECTION_CLOSE yet.
    close_packet_due_ = true;
    return;
  }
  if (state_ != State::handshake && state_ != State::established) return;
  ngtcp2_path path = this->path();
  ngtcp2_pkt_info pi{};
  if (int rv = ngtcp2_conn_read_pkt(conn_.get(), &path, &pi, datagram.data(), datagram.size(), now);
      rv != 0)
    handle_error(rv, now);
}

void QuicSession::on_timer(QuicTimestamp now) {
  if (state_ != State::handshake && state_ != State::established) return;
  if (ngtcp2_conn_get_expiry(conn_.get()) > now) return;
  int rv = ngtcp2_conn_handle_expiry(conn_.get(), now);
  if (rv == 0) return;
  if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT ||
      (rv == NGTCP2_ERR_IDLE_CLOSE && state_ == State::handshake)) {
    give_up("no QUIC handshake with " + remote_.to_string() + " within " +
            milliseconds_text(options_.handshake_timeout));
  } else if (rv == NGTCP2_ERR_IDLE_CLOSE) {
    give_up("the QUIC peer " + remote_.to_string() + " went silent for " +
            milliseconds_text(options_.idle_timeout));
  } else {
    ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, rv, nullptr, 0);
    enter_closing(
        now, "QUIC connection with " + remote_.to_string() + " failed: " + ngtcp2_strerror(rv));
  }
}

void QuicSession::apply_commands() {
  LoopCommands taken = exchange_.take_commands();
  if (taken.abort) {
    abort(kAbortedByApplication, "the QUIC connection was abandoned");
    closing_deadline_ = 0;  // no lingering: the owner is waiting for the loop to end
    return;
  }
  if (state_ != State::established) return;
  ngtcp2_conn* conn = conn_.get();
  for (StreamCommand& command : taken.commands) {
    switch (command.kind) {
      case StreamCommand::Kind::open: {
        int64_t id = -1;
        int rv = ngtcp2_conn_open_bidi_stream(conn, &id, nullptr);
        if (rv != 0 || id != command.stream) {
          // The exchange counts the peer's stream credit exactly as ngtcp2 does; a mismatch
          // is a bug, and the connection cannot go on with streams crossed.
          abort(1, "QUIC stream " + std::to_string(command.stream) + " could not be opened (" +
                       (rv != 0 ? ngtcp2_strerror(rv) : "unexpected stream id") + ")");
          return;
        }
        break;
      }
      case StreamCommand::Kind::write: {
        SendStream& state = send_streams_[command.stream];
        if (!command.data.empty()) {
          state.end += command.data.size();
          state.chunks.push_back(std::move(command.data));
        }
        if (command.fin) state.fin_queued = true;
        make_ready(command.stream, state);
        break;
      }
      case StreamCommand::Kind::reset:
        (void)ngtcp2_conn_shutdown_stream(conn, command.stream, command.code);
        drop_send_stream(command.stream);
        break;
    }
  }
  for (auto [stream, bytes] : taken.stream_credit)
    (void)ngtcp2_conn_extend_max_stream_offset(conn, stream, bytes);
  if (taken.connection_credit > 0) ngtcp2_conn_extend_max_offset(conn, taken.connection_credit);
  close_requested_ = taken.close;
  close_now_ = taken.close_now;
}

// ---- stream bookkeeping ----

void QuicSession::make_ready(int64_t stream, SendStream& state) {
  if (state.ready || state.blocked || !state.has_unsent()) return;
  state.ready = true;
  ready_.insert(stream);
}

void QuicSession::drop_send_stream(int64_t stream) {
  auto it = send_streams_.find(stream);
  if (it == send_streams_.end()) return;
  size_t held = 0;
  for (const auto& chunk : it->second.chunks) held += chunk.size();
  if (held > 0) released_.emplace_back(stream, held);
  send_streams_.erase(it);
}

bool QuicSession::all_delivered() const {
  return std::all_of(send_streams_.begin(), send_streams_.end(),
                     [](const auto& entry) { return entry.second.delivered(); });
}

void QuicSession::on_ack(int64_t stream, uint64_t offset, uint64_t length) {
  auto it = send_streams_.find(stream);
  if (it == send_streams_.end()) return;
  SendStream& state = it->second;
  // Only a frame carrying FIN is reported without new bytes.
  if (length == 0) state.fin_frame_acked = true;
  state.acked = std::max(state.acked, offset + length);
  size_t freed = 0;
  while (!state.chunks.empty() &&
         state.chunks_offset + state.chunks.front().size() <= state.acked) {
    freed += state.chunks.front().size();
    state.chunks_offset += state.chunks.front().size();
    state.chunks.pop_front();
    --state.cursor;  // acknowledged bytes were sent: the cursor is past this chunk
  }
  if (freed > 0) released_.emplace_back(stream, freed);
}

void QuicSession::on_stream_close(int64_t stream, uint32_t flags, uint64_t app_error_code) {
  drop_send_stream(stream);
  bool local = ngtcp2_conn_is_local_stream(conn_.get(), stream) != 0;
  std::optional<uint64_t> code;
  if (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) code = app_error_code;
  exchange_.on_stream_closed(stream, local, code);
  // The peer's stream slot comes back only now, so at most max_streams are open at once.
  if (!local) ngtcp2_conn_extend_max_streams_bidi(conn_.get(), 1);
}

void QuicSession::on_max_stream_data(int64_t stream) {
  auto it = send_streams_.find(stream);
  if (it == send_streams_.end()) return;
  it->second.blocked = false;
  make_ready(stream, it->second);
}

// ---- output ----

QuicSession::StreamSlice QuicSession::next_slice(QuicTimestamp now) {
  StreamSlice slice;
  bool connection_blocked = ngtcp2_conn_get_max_data_left(conn_.get()) == 0;
  bool rate_limited = rate_limit_ && !rate_limit_->ready(now);
  while (!ready_.empty()) {
    int64_t id = *ready_.begin();
    auto it = send_streams_.find(id);
    if (it == send_streams_.end()) {
      ready_.erase(ready_.begin());
      continue;
    }
    SendStream& state = it->second;
    if (state.blocked || !state.has_unsent()) {
      state.ready = false;
      ready_.erase(ready_.begin());
      continue;
    }
    // Out of connection credit, only a bare FIN can still go: wait for MAX_DATA.
    if (connection_blocked && state.sent < state.end) return slice;
    // Over the --bwlimit budget likewise (the loop wakes at the bucket's ready_at()).
    if (rate_limited && state.sent < state.end) return slice;
    slice.stream = id;
    size_t index = state.cursor;
    uint64_t skip = state.sent - state.cursor_offset;
    while (index < state.chunks.size() && slice.count < slice.data.size()) {
      auto& chunk = state.chunks[index];
      slice.data[slice.count++] = ngtcp2_vec{chunk.data() + skip, chunk.size() - skip};
      skip = 0;
      ++index;
    }
    slice.fin = state.fin_queued && index == state.chunks.size();
    return slice;
  }
  return slice;
}

void QuicSession::on_accepted(const StreamSlice& slice, ngtcp2_ssize accepted) {
  if (slice.stream < 0 || accepted < 0) return;
  auto it = send_streams_.find(slice.stream);
  if (it == send_streams_.end()) return;
  SendStream& state = it->second;
  state.sent += static_cast<uint64_t>(accepted);
  if (rate_limit_) rate_limit_->spend(static_cast<uint64_t>(accepted));
  while (state.cursor < state.chunks.size() &&
         state.sent >= state.cursor_offset + state.chunks[state.cursor].size()) {
    state.cursor_offset += state.chunks[state.cursor].size();
    ++state.cursor;
  }
  if (slice.fin && state.sent == state.end) {
    state.fin_sent = true;
    state.fin_alone = accepted == 0;
  }
  if (!state.has_unsent()) {
    state.ready = false;
    ready_.erase(slice.stream);
  }
}

bool QuicSession::send_batch(UdpSocket& socket, size_t begin, size_t end, size_t segment) {
  if (begin == end) return true;
  const SocketAddress* to = socket.connected() ? nullptr : &remote_;
  size_t sent = socket.send({buffer_.data() + begin, end - begin}, segment, to);
  if (sent > 0) {
    ++stats_.send_calls;
    stats_.datagrams_sent += (sent + segment - 1) / segment;
  }
  if (begin + sent == end) return true;
  pending_begin_ = begin + sent;
  pending_end_ = end;
  pending_segment_ = segment;
  return false;
}

bool QuicSession::flush_pending(UdpSocket& socket) {
  if (pending_begin_ == pending_end_) return true;
  size_t begin = std::exchange(pending_begin_, 0);
  size_t end = std::exchange(pending_end_, 0);
  return send_batch(socket, begin, end, pending_segment_);
}

QuicSession::SendResult QuicSession::send(UdpSocket& socket) {
  if (!flush_pending(socket)) return SendResult::blocked;
  if (state_ == State::established && close_requested_ && (close_now_ || all_delivered()))
    close_cleanly(quic_now());
  if (state_ == State::closing) {
    if (close_packet_due_) {
      const SocketAddress* to = socket.connected() ? nullptr : &remote_;
      (void)socket.send(close_packet_, close_packet_.size(), to);
      close_packet_due_ = false;
    }
    return SendResult::idle;
  }
  if (state_ != State::handshake && state_ != State::established) return SendResult::idle;

  ngtcp2_conn* conn = conn_.get();
  const size_t max_payload = ngtcp2_conn_get_max_tx_udp_payload_size(conn);
  const size_t max_packets =
      std::min(UdpSocket::kMaxSegments, UdpSocket::kMaxBatchBytes / max_payload);
  for (int round = 0; round < kMaxBatchesPerSend; ++round) {
    QuicTimestamp now = quic_now();
    size_t limit =
        std::clamp<size_t>(ngtcp2_conn_get_send_quantum(conn) / max_payload, 1, max_packets);
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    size_t used = 0;
    size_t segment = 0;
    size_t packets = 0;
    size_t probe = 0;
    bool limited = false;
    while (packets < limit) {
      StreamSlice slice = next_slice(now);
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (slice.fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      ngtcp2_ssize accepted = -1;
      ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn, &ps.path, &pi, buffer_.data() + used,
                                                 max_payload, &accepted, flags, slice.stream,
                                                 slice.data.data(), slice.count, now);
      if (n < 0) {
        if (n == NGTCP2_ERR_WRITE_MORE) {
          on_accepted(slice, accepted);
          continue;
        }
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
          // Out of the peer's stream credit until extend_max_stream_data says otherwise.
          if (auto it = send_streams_.find(slice.stream); it != send_streams_.end())
            it->second.blocked = true;
          continue;
        }
        if (n == NGTCP2_ERR_STREAM_SHUT_WR || n == NGTCP2_ERR_STREAM_NOT_FOUND) {
          drop_send_stream(slice.stream);
          exchange_.on_write_refused(slice.stream, 0);
          continue;
        }
        (void)send_batch(socket, 0, used, segment);
        ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, static_cast<int>(n),
                                                                 nullptr, 0);
        enter_closing(now, "QUIC connection with " + remote_.to_string() +
                               " failed: " + ngtcp2_strerror(static_cast<int>(n)));
        return SendResult::more;  // the next call sends the CONNECTION_CLOSE
      }
      on_accepted(slice, accepted);
      if (n == 0) {
        limited = true;  // congestion window, pacing, or nothing left
        break;
      }
      size_t size = static_cast<size_t>(n);
      if (packets > 0 && size > segment) {
        // Larger than the batch's datagrams (a path MTU probe): it goes out on its own.
        probe = size;
        break;
      }
      if (packets == 0) segment = size;
      used += size;
      ++packets;
      // GSO splits into equal segments; only the last may be shorter.
      if (size < segment) break;
    }
    bool sent = send_batch(socket, 0, used, segment) &&
                (probe == 0 || send_batch(socket, used, used + probe, probe));
    ngtcp2_conn_update_pkt_tx_time(conn, now);
    if (!sent) return SendResult::blocked;
    if (limited) return SendResult::idle;
  }
  return SendResult::more;
}

void QuicSession::publish(const UdpSocket& socket) {
  exchange_.release_sent(released_);
  released_.clear();
  ngtcp2_conn_stat cs{};
  ngtcp2_conn_get_conn_stat(conn_.get(), &cs);
  stats_.smoothed_rtt = std::chrono::nanoseconds(cs.smoothed_rtt);
  stats_.min_rtt = std::chrono::nanoseconds(cs.min_rtt);
  stats_.congestion_window = cs.cwnd;
  stats_.bytes_in_flight = cs.bytes_in_flight;
  stats_.max_udp_payload = cs.max_tx_udp_payload_size;
  stats_.gso = socket.gso_enabled();
  stats_.gro = socket.gro_enabled();
  exchange_.publish_stats(stats_);
  if (trace_every_ > 0) {
    const QuicTimestamp now = quic_now();
    if (now >= next_trace_) {
      next_trace_ = now + trace_every_;
      // Where the sender's bytes are: not yet handed to ngtcp2, handed but not acknowledged,
      // and whether the peer's flow control holds them back.
      uint64_t unsent = 0, unacked = 0, blocked = 0;
      for (const auto& [id, stream] : send_streams_) {
        unsent += stream.end - stream.sent;
        unacked += stream.end - stream.acked;
        if (stream.blocked) ++blocked;
      }
      std::fprintf(stderr,
                   "quic-trace %s unsent=%llu unacked=%llu streams_blocked=%llu "
                   "max_data_left=%llu\n",
                   is_server_ ? "server" : "client", static_cast<unsigned long long>(unsent),
                   static_cast<unsigned long long>(unacked),
                   static_cast<unsigned long long>(blocked),
                   static_cast<unsigned long long>(ngtcp2_conn_get_max_data_left(conn_.get())));
      std::fprintf(
          stderr,
          "quic-trace %s t=%.3f cwnd=%llu ssthresh=%llu inflight=%llu srtt_us=%llu "
          "min_rtt_us=%llu delivery_mbit=%.1f pacing_mbit=%.1f pto_count=%zu "
          "datagrams_sent=%llu datagrams_received=%llu\n",
          is_server_ ? "server" : "client", static_cast<double>(now - trace_start_) / 1e9,
          static_cast<unsigned long long>(cs.cwnd), static_cast<unsigned long long>(cs.ssthresh),
          static_cast<unsigned long long>(cs.bytes_in_flight),
          static_cast<unsigned long long>(cs.smoothed_rtt / 1000),
          static_cast<unsigned long long>(cs.min_rtt / 1000),
          static_cast<double>(cs.delivery_rate_sec) * 8 / 1e6, cs.pacing_rate * 8 * 1e9 / 1e6,
          cs.pto_count, static_cast<unsigned long long>(stats_.datagrams_sent),
          static_cast<unsigned long long>(stats_.datagrams_received));
    }
  }
}

void QuicSession::count_received(size_t datagrams) {
  ++stats_.receive_calls;
  stats_.datagrams_received += datagrams;
}

}  // namespace arsync::dataplane
