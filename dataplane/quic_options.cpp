#include "dataplane/quic_options.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dataplane/rate_limit.h"

namespace arsync::dataplane {

std::optional<CongestionControl> parse_congestion_control(std::string_view name) {
  if (name == "reno") return CongestionControl::reno;
  if (name == "cubic") return CongestionControl::cubic;
  if (name == "bbr") return CongestionControl::bbr;
  if (name == "bbr2") return CongestionControl::bbr2;
  return std::nullopt;
}

std::string_view congestion_control_name(CongestionControl cc) {
  switch (cc) {
    case CongestionControl::reno:
      return "reno";
    case CongestionControl::cubic:
      return "cubic";
    case CongestionControl::bbr:
      return "bbr";
    case CongestionControl::bbr2:
      return "bbr2";
  }
  return "?";
}

std::chrono::microseconds initial_rtt_from(std::chrono::nanoseconds ssh_round_trip) {
  return std::clamp(std::chrono::duration_cast<std::chrono::microseconds>(ssh_round_trip),
                    std::chrono::microseconds(1000), std::chrono::microseconds(333'000));
}

void apply_tuning(QuicOptions& options, std::string_view spec) {
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos)
      throw std::invalid_argument("ARSYNC_QUIC_TUNE: NAME=BYTES expected, not \"" +
                                  std::string(item) + "\"");
    const std::string_view name = item.substr(0, equals);
    std::string_view value = item.substr(equals + 1);
    uint64_t unit = 1;
    if (!value.empty()) {
      switch (value.back()) {
        case 'K':
        case 'k':
          unit = 1u << 10;
          break;
        case 'M':
        case 'm':
          unit = 1u << 20;
          break;
        case 'G':
        case 'g':
          unit = 1u << 30;
          break;
        default:
          break;
      }
      if (unit != 1) value.remove_suffix(1);
    }
    uint64_t number = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (value.empty() || error != std::errc() || end != value.data() + value.size() ||
        number > (uint64_t{1} << 40) / unit)
      throw std::invalid_argument("ARSYNC_QUIC_TUNE: bad size in \"" + std::string(item) + "\"");
    const uint64_t bytes = number * unit;
    if (name == "stream_window") {
      options.stream_window = bytes;
    } else if (name == "max_stream_window") {
      options.max_stream_window = bytes;
    } else if (name == "connection_window") {
      options.connection_window = bytes;
    } else if (name == "max_connection_window") {
      options.max_connection_window = bytes;
    } else if (name == "send_buffer") {
      options.send_buffer = bytes;
    } else if (name == "stream_send_buffer") {
      options.stream_send_buffer = bytes;
    } else {
      throw std::invalid_argument("ARSYNC_QUIC_TUNE: unknown name \"" + std::string(name) + "\"");
    }
  }
  validate(options);
}

void apply_tuning_from_environment(QuicOptions& options) {
  const char* spec = std::getenv("ARSYNC_QUIC_TUNE");
  if (spec == nullptr || *spec == '\0') return;
  QuicOptions tuned = options;
  try {
    apply_tuning(tuned, spec);
    options = tuned;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s (ignored)\n", e.what());
  }
}

void validate(const QuicOptions& options) {
  auto refuse = [](const std::string& what) { throw std::invalid_argument("QUIC option " + what); };
  if (options.max_streams < 1 || options.max_streams > kMaxQuicStreams)
    refuse("max_streams must be 1.." + std::to_string(kMaxQuicStreams));
  if (options.handshake_timeout.count() <= 0) refuse("handshake_timeout must be positive");
  if (options.idle_timeout.count() <= 0) refuse("idle_timeout must be positive");
  // Windows below one packet would stall; above 2^62 is not a QUIC varint.
  constexpr uint64_t kMinWindow = 4096;
  constexpr uint64_t kMaxWindow = uint64_t{1} << 40;
  if (options.stream_window < kMinWindow || options.stream_window > kMaxWindow)
    refuse("stream_window out of range");
  if (options.connection_window < kMinWindow || options.connection_window > kMaxWindow)
    refuse("connection_window out of range");
  if (options.max_stream_window < options.stream_window || options.max_stream_window > kMaxWindow)
    refuse("max_stream_window must be at least stream_window");
  if (options.max_connection_window < options.connection_window ||
      options.max_connection_window > kMaxWindow)
    refuse("max_connection_window must be at least connection_window");
  if (options.send_buffer == 0 || options.stream_send_buffer == 0)
    refuse("send buffers must not be empty");
  if (options.socket_buffer <= 0) refuse("socket_buffer must be positive");
  if (options.initial_rtt.count() < 0 || options.initial_rtt > std::chrono::seconds(10))
    refuse("initial_rtt must be 0..10 s");
  if (options.max_send_rate > kMaxRate) refuse("max_send_rate out of range");
}

}  // namespace arsync::dataplane
