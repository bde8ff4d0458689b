#include "merkle/delta_codec.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace arsync::merkle {
namespace {

template <typename T>
using Decoder = std::optional<T> (*)(std::span<const uint8_t>, std::string&);

// Decodes bytes that must be refused, and returns the reason.
template <typename T>
std::string refusal(Decoder<T> decode, const Bytes& bytes) {
  std::string error;
  std::optional<T> value = decode(bytes, error);
  EXPECT_FALSE(value.has_value());
  EXPECT_FALSE(error.empty());
  return error;
}

// A valid encoding: decodes to `value`, and every strict prefix, and the encoding with one
// more byte, are refused.
template <typename T>
void expect_strict_round_trip(const T& value, Bytes (*encode)(const T&), Decoder<T> decode) {
  const Bytes bytes = encode(value);
  std::string error;
  std::optional<T> back = decode(bytes, error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_TRUE(error.empty());
  EXPECT_EQ(*back, value);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Bytes prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    EXPECT_FALSE(decode(prefix, error).has_value()) << "prefix of " << n << " bytes accepted";
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_NE(refusal(decode, longer).find("trailing"), std::string::npos);
}

Digest128 digest_of(uint8_t seed) {
  Digest128 d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + i);
  return d;
}

void put_varint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// ---- Signature ----

TEST(DeltaCodec, SignatureRoundTrip) {
  expect_strict_round_trip(Signature{8, 0, digest_of(1)}, encode_signature, decode_signature);
  expect_strict_round_trip(Signature{18, kMaxDeltaFileSize, digest_of(2)}, encode_signature,
                           decode_signature);
  expect_strict_round_trip(Signature{11, 64 << 20, digest_of(3)}, encode_signature,
                           decode_signature);
}

TEST(DeltaCodec, SignatureRefusesOutOfRangeValues) {
  EXPECT_NE(refusal(decode_signature, encode_signature({7, 10, {}})).find("chunk bits"),
            std::string::npos);
  refusal(decode_signature, encode_signature({19, 10, {}}));
  refusal(decode_signature, encode_signature({12, kMaxDeltaFileSize + 1, {}}));
  Bytes bytes = encode_signature({12, 10, {}});
  bytes[0] = 2;
  EXPECT_NE(refusal(decode_signature, bytes).find("version"), std::string::npos);
  // A non-minimal varint (10 as 0x8a 0x00).
  bytes = {kDeltaVersion, 12, 0x8a, 0x00};
  bytes.resize(bytes.size() + 16, 0);
  EXPECT_NE(refusal(decode_signature, bytes).find("not minimal"), std::string::npos);
}

// ---- Probe ----

TEST(DeltaCodec, ProbeRoundTrip) {
  expect_strict_round_trip(Probe{{0}}, encode_probe, decode_probe);
  expect_strict_round_trip(Probe{{1, 0x0123456789abcdef, ~uint64_t{0}}}, encode_probe,
                           decode_probe);
  Probe big;
  for (size_t i = 0; i < kMaxProbeKeys; ++i) big.keys.push_back(i * 0x9e3779b97f4a7c15);
  std::string error;
  auto back = decode_probe(encode_probe(big), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, big);
}

TEST(DeltaCodec, ProbeRefusesBadCounts) {
  refusal(decode_probe, encode_probe(Probe{}));
  Probe too_many;
  too_many.keys.resize(kMaxProbeKeys + 1);
  EXPECT_NE(refusal(decode_probe, encode_probe(too_many)).find("too large"), std::string::npos);
  // A count far beyond the input is refused before anything is allocated.
  Bytes lying = {kDeltaVersion};
  put_varint(lying, kMaxProbeKeys);
  lying.resize(lying.size() + 16, 0);
  EXPECT_NE(refusal(decode_probe, lying).find("truncated"), std::string::npos);
  Bytes huge = {kDeltaVersion};
  put_varint(huge, std::numeric_limits<uint64_t>::max());
  refusal(decode_probe, huge);
}

// ---- Answer ----

TEST(DeltaCodec, AnswerRoundTrip) {
  expect_strict_round_trip(Answer{{std::nullopt}}, encode_answer, decode_answer);
  expect_strict_round_trip(Answer{{Location{0, 0}}}, encode_answer, decode_answer);
  Answer mixed;
  mixed.found = {Location{0, 1000},
                 std::nullopt,
                 Location{0, 10},
                 Location{7, kMaxDeltaFileSize},
                 Location{kMaxSourceFile, 0},
                 std::nullopt,
                 std::nullopt,
                 std::nullopt,
                 Location{0, 5}};
  expect_strict_round_trip(mixed, encode_answer, decode_answer);
}

TEST(DeltaCodec, AnswerRefusesMalformedInput) {
  // Bits set past the last key.
  Bytes bytes = {kDeltaVersion, 3, 0x08};
  EXPECT_NE(refusal(decode_answer, bytes).find("past the last key"), std::string::npos);
  // More keys found than bytes left to place them.
  bytes = {kDeltaVersion, 8, 0xff, 0x00};
  refusal(decode_answer, bytes);
  // An offset below 0: zigzag(-1) << 1 = 2.
  bytes = {kDeltaVersion, 1, 0x01, 0x02};
  EXPECT_NE(refusal(decode_answer, bytes).find("out of range"), std::string::npos);
  // An offset past the limit: the largest one, then one more.
  bytes = {kDeltaVersion, 2, 0x03};
  put_varint(bytes, kMaxDeltaFileSize << 2);
  put_varint(bytes, 4);
  EXPECT_NE(refusal(decode_answer, bytes).find("key 1: offset out of range"), std::string::npos);
  // Elsewhere, but file 0.
  bytes = {kDeltaVersion, 1, 0x01, 0x01, 0x00};
  EXPECT_NE(refusal(decode_answer, bytes).find("file"), std::string::npos);
  // A file id too large.
  bytes = {kDeltaVersion, 1, 0x01, 0x01};
  put_varint(bytes, uint64_t{kMaxSourceFile} + 1);
  refusal(decode_answer, bytes);
  // No keys.
  refusal(decode_answer, Bytes{kDeltaVersion, 0});
  Answer too_many;
  too_many.found.resize(kMaxProbeKeys + 1);
  refusal(decode_answer, encode_answer(too_many));
}

TEST(DeltaCodec, EncodersRefuseWhatTheyCannotRepresent) {
  EXPECT_THROW(encode_answer(Answer{{Location{0, kMaxDeltaFileSize + 1}}}), std::invalid_argument);
  RecipePart part;
  part.ops = {{RecipeOp::Kind::literal, 0, 0, 5}};
  part.literals = {1, 2, 3};
  EXPECT_THROW(encode_recipe_part(part), std::invalid_argument);
  part.ops = {{RecipeOp::Kind::copy, 0, kMaxDeltaFileSize, 1}};
  EXPECT_THROW(encode_recipe_part(part), std::invalid_argument);
}

// ---- RecipePart ----

RecipePart sample_part(bool last) {
  RecipePart part;
  part.literals = {'h', 'e', 'l', 'l', 'o', '!'};
  part.ops = {
      {RecipeOp::Kind::copy, 0, 4096, 8192}, {RecipeOp::Kind::literal, 0, 0, 5},
      {RecipeOp::Kind::copy, 0, 0, 100},     {RecipeOp::Kind::copy, 3, 1 << 30, 1},
      {RecipeOp::Kind::literal, 0, 5, 1},    {RecipeOp::Kind::copy, 0, kMaxDeltaFileSize - 10, 10}};
  part.last = last;
  if (last) {
    part.total_size = 8192 + 5 + 100 + 1 + 1 + 10;
    part.digest = digest_of(9);
  }
  return part;
}

TEST(DeltaCodec, RecipePartRoundTrip) {
  expect_strict_round_trip(sample_part(false), encode_recipe_part, decode_recipe_part);
  expect_strict_round_trip(sample_part(true), encode_recipe_part, decode_recipe_part);
  RecipePart empty_file;
  empty_file.last = true;
  empty_file.digest = digest_of(1);
  expect_strict_round_trip(empty_file, encode_recipe_part, decode_recipe_part);
  RecipePart full;
  full.literals.assign(kMaxRecipeLiteral, 0x5a);
  full.ops = {{RecipeOp::Kind::literal, 0, 0, kMaxRecipeLiteral}};
  std::string error;
  auto back = decode_recipe_part(encode_recipe_part(full), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, full);
}

TEST(DeltaCodec, RecipePartRefusesMalformedInput) {
  // A part that is not the last must hold an op.
  refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 0});
  // Unknown flags.
  EXPECT_NE(refusal(decode_recipe_part, Bytes{kDeltaVersion, 2, 0}).find("flags"),
            std::string::npos);
  // A zero-length op.
  EXPECT_NE(refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 1, 0x00, 0x00}).find("is 0"),
            std::string::npos);
  // A literal marked as elsewhere.
  refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 1, 0x07, 0x00});
  // A literal longer than the input.
  refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 1, 0x0d, 'a', 'b'});
  // Literal bytes past the per-part limit, refused before they are read.
  Bytes big = {kDeltaVersion, 0, 1};
  put_varint(big, (uint64_t{kMaxRecipeLiteral} + 1) << 2 | 1);
  EXPECT_NE(refusal(decode_recipe_part, big).find("too long"), std::string::npos);
  // Two literals that together pass it.
  Bytes two = {kDeltaVersion, 0, 2};
  put_varint(two, uint64_t{kMaxRecipeLiteral} << 2 | 1);
  two.resize(two.size() + kMaxRecipeLiteral, 0);
  put_varint(two, 1 << 2 | 1);
  two.push_back(0);
  refusal(decode_recipe_part, two);
  // A copy ending past 2^62 - 1.
  Bytes past = {kDeltaVersion, 0, 1};
  put_varint(past, uint64_t{2} << 2);
  put_varint(past, static_cast<uint64_t>(kMaxDeltaFileSize) << 1);
  EXPECT_NE(refusal(decode_recipe_part, past).find("past"), std::string::npos);
  // A copy from a negative offset: zigzag(-1) = 1.
  refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 1, 0x04, 0x01});
  // A copy from elsewhere, file 0.
  refusal(decode_recipe_part, Bytes{kDeltaVersion, 0, 1, 0x06, 0x00, 0x00});
  // Too many ops.
  Bytes many = {kDeltaVersion, 0};
  put_varint(many, kMaxRecipeOps + 1);
  EXPECT_NE(refusal(decode_recipe_part, many).find("op count"), std::string::npos);
  // An op count far beyond the input.
  Bytes lying = {kDeltaVersion, 0};
  put_varint(lying, kMaxRecipeOps);
  refusal(decode_recipe_part, lying);
  // A last part whose total size is out of range.
  Bytes last = {kDeltaVersion, 1, 0};
  put_varint(last, kMaxDeltaFileSize + 1);
  last.resize(last.size() + 16, 0);
  refusal(decode_recipe_part, last);
  // The longest copy there can be is fine; one byte further along it is not.
  Bytes longest = {kDeltaVersion, 0, 1};
  put_varint(longest, std::numeric_limits<uint64_t>::max() & ~uint64_t{3});
  put_varint(longest, 0);
  std::string error;
  EXPECT_TRUE(decode_recipe_part(longest, error)) << error;
  longest.back() = 2;
  refusal(decode_recipe_part, longest);
}

TEST(DeltaCodec, ErrorsNameTheItem) {
  Bytes bytes = {kDeltaVersion, 0, 2, 0x04, 0x00, 0x00, 0x00};
  const std::string error = refusal(decode_recipe_part, bytes);
  EXPECT_NE(error.find("op 1"), std::string::npos) << error;
}

}  // namespace
}  // namespace arsync::merkle
