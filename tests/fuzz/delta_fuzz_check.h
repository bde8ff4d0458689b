// Shared by the delta-codec fuzz targets (merkle/delta_codec.h): what must hold for every
// input a decoder accepts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "merkle/delta_codec.h"

namespace arsync::fuzz {

inline void check_delta(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "delta codec fuzz check failed: %s\n", what);
    std::abort();
  }
}

// Decodes the input; when it is accepted, checks that encoding the result gives back exactly
// the input (the encoding is canonical) and that decoding that again gives the same value.
// Returns the decoded value for further checks by the caller.
template <typename Decode, typename Encode>
auto delta_round_trip(const uint8_t* data, size_t size, Decode decode, Encode encode) {
  std::span<const uint8_t> in(data, size);
  std::string error;
  auto first = decode(in, error);
  if (!first) {
    check_delta(!error.empty(), "input refused without an error message");
    return first;
  }
  check_delta(error.empty(), "input accepted with an error message");
  merkle::Bytes bytes = encode(*first);
  check_delta(bytes.size() == size && std::equal(bytes.begin(), bytes.end(), data),
              "encode(decode(input)) != input");
  auto second = decode(bytes, error);
  check_delta(second.has_value(), "decode(encode(x)) refused");
  check_delta(*first == *second, "decode(encode(x)) != x");
  return first;
}

}  // namespace arsync::fuzz
