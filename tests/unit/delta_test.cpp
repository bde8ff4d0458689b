// The delta exchange end to end: signature, probes and answers, recipe, application, check.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fsio/apply_recipe.h"
#include "fsio/unique_fd.h"
#include "merkle/chunk_index.h"
#include "merkle/delta_loopback.h"
#include "merkle/delta_prober.h"
#include "merkle/delta_responder.h"
#include "merkle/file_hasher.h"
#include "merkle/recipe_applier.h"
#include "merkle/recipe_encoder.h"

namespace arsync::merkle {
namespace {

using ByteVec = std::vector<uint8_t>;

ByteVec random_bytes(size_t size, std::mt19937_64& rng) {
  ByteVec out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

fsio::UniqueFd memfd_with(const ByteVec& bytes) {
  fsio::UniqueFd fd(::memfd_create("delta_test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  if (!bytes.empty()) {
    EXPECT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
  }
  return fd;
}

ByteVec contents_of(int fd) {
  ByteVec out;
  uint8_t buffer[65536];
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
    EXPECT_GE(n, 0);
    if (n <= 0) break;
    out.insert(out.end(), buffer, buffer + n);
    offset += n;
  }
  return out;
}

// The receiver's view: basis bytes and their tree, cut with the parameters it picks.
struct Side {
  ByteVec bytes;
  FileHashes hashes;
};

Side receiver_side(ByteVec bytes) {
  Side s;
  s.hashes = hash_bytes(bytes, chunk_params_for_size(bytes.size()));
  s.bytes = std::move(bytes);
  return s;
}

Side sender_side(ByteVec bytes, const Side& receiver) {
  Side s;
  s.hashes = hash_bytes(bytes, receiver.hashes.tree.params());
  s.bytes = std::move(bytes);
  return s;
}

// Runs the exchange and applies the recipe to a fresh file; returns what was built (and
// fails the test if the applier refused it).
ByteVec rebuild(const Side& basis, const Side& mine, DeltaTraffic* traffic = nullptr,
                const ChunkIndex* elsewhere = nullptr, std::vector<int> other_fds = {}) {
  LoopbackResult result = run_delta_loopback(basis.hashes.tree, elsewhere, mine.hashes, mine.bytes);
  if (traffic) *traffic = result.traffic;
  fsio::UniqueFd basis_fd = memfd_with(basis.bytes);
  fsio::UniqueFd out_fd = memfd_with({});
  std::vector<int> sources = {basis_fd.get()};
  sources.insert(sources.end(), other_fds.begin(), other_fds.end());
  std::string error;
  EXPECT_TRUE(apply_recipe(result.recipe, sources, out_fd.get(), error)) << error;
  return contents_of(out_fd.get());
}

// One random edit of `data`.
void random_edit(ByteVec& data, std::mt19937_64& rng) {
  const size_t size = data.size();
  auto pick = [&](size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(rng() % bound); };
  auto length = [&] {
    // Mostly small edits, sometimes large ones.
    switch (rng() % 4) {
      case 0:
        return pick(16) + 1;
      case 1:
        return pick(600) + 1;
      case 2:
        return pick(5000) + 1;
      default:
        return pick(size / 2 + 1) + 1;
    }
  };
  switch (rng() % 7) {
    case 0: {  // insert
      ByteVec extra = random_bytes(length(), rng);
      data.insert(data.begin() + static_cast<ptrdiff_t>(pick(size + 1)), extra.begin(),
                  extra.end());
      break;
    }
    case 1: {  // delete
      const size_t at = pick(size + 1);
      const size_t n = std::min(length(), size - at);
      data.erase(data.begin() + static_cast<ptrdiff_t>(at),
                 data.begin() + static_cast<ptrdiff_t>(at + n));
      break;
    }
    case 2: {  // overwrite
      const size_t at = pick(size + 1);
      const size_t n = std::min(length(), size - at);
      for (size_t i = 0; i < n; ++i) data[at + i] = static_cast<uint8_t>(rng());
      break;
    }
    case 3: {  // move a block
      const size_t at = pick(size + 1);
      const size_t n = std::min(length(), size - at);
      ByteVec block(data.begin() + static_cast<ptrdiff_t>(at),
                    data.begin() + static_cast<ptrdiff_t>(at + n));
      data.erase(data.begin() + static_cast<ptrdiff_t>(at),
                 data.begin() + static_cast<ptrdiff_t>(at + n));
      data.insert(data.begin() + static_cast<ptrdiff_t>(pick(data.size() + 1)), block.begin(),
                  block.end());
      break;
    }
    case 4:  // truncate
      data.resize(pick(size + 1));
      break;
    case 5: {  // append
      ByteVec extra = random_bytes(length(), rng);
      data.insert(data.end(), extra.begin(), extra.end());
      break;
    }
    default: {  // duplicate a block elsewhere
      const size_t at = pick(size + 1);
      const size_t n = std::min(length(), size - at);
      ByteVec block(data.begin() + static_cast<ptrdiff_t>(at),
                    data.begin() + static_cast<ptrdiff_t>(at + n));
      data.insert(data.begin() + static_cast<ptrdiff_t>(pick(size + 1)), block.begin(),
                  block.end());
    }
  }
}

ByteVec random_file(std::mt19937_64& rng) {
  size_t size;
  switch (rng() % 6) {
    case 0:
      size = 0;
      break;
    case 1:
      size = rng() % 600;  // smaller than one chunk
      break;
    case 2:
      size = rng() % 4000;
      break;
    case 3:
      size = rng() % 300000;
      break;
    default:
      size = rng() % 60000;
  }
  ByteVec data = random_bytes(size, rng);
  // Sometimes stretches of one byte (cuts at max_size, identical chunks).
  if (size > 0 && rng() % 4 == 0) {
    const size_t at = rng() % size;
    const size_t n = std::min<size_t>(size - at, rng() % 50000);
    std::fill_n(data.begin() + static_cast<ptrdiff_t>(at), n, static_cast<uint8_t>(rng()));
  }
  return data;
}

TEST(Delta, RebuildsTheExactFileAfterRandomEdits) {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 2500; ++round) {
    const Side basis = receiver_side(random_file(rng));
    ByteVec changed = rng() % 10 == 0 ? random_file(rng) : basis.bytes;
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) random_edit(changed, rng);
    const Side mine = sender_side(changed, basis);
    DeltaTraffic traffic;
    const ByteVec built = rebuild(basis, mine, &traffic);
    ASSERT_EQ(built.size(), changed.size()) << "round " << round;
    ASSERT_TRUE(built == changed) << "round " << round;
    ASSERT_LE(traffic.literal_bytes, changed.size());
    ASSERT_LE(traffic.probe_keys, max_probe_keys(changed.size(), basis.hashes.tree.params()));
    if (changed == basis.bytes) {
      ASSERT_EQ(traffic.probes, 0u) << "round " << round;
    }
  }
}

TEST(Delta, IdenticalContentCostsNoProbe) {
  std::mt19937_64 rng(1);
  const Side basis = receiver_side(random_bytes(1 << 20, rng));
  const Side mine = sender_side(basis.bytes, basis);
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(basis, mine, &traffic), basis.bytes);
  EXPECT_EQ(traffic.probes, 0u);
  EXPECT_EQ(traffic.literal_bytes, 0u);
  EXPECT_LT(traffic.total(), 64u);
}

TEST(Delta, EmptyFilesOnEitherSide) {
  std::mt19937_64 rng(2);
  const Side empty = receiver_side({});
  const Side full = receiver_side(random_bytes(5000, rng));
  EXPECT_EQ(rebuild(empty, sender_side({}, empty)), ByteVec{});
  EXPECT_EQ(rebuild(full, sender_side({}, full)), ByteVec{});
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(empty, sender_side(full.bytes, empty), &traffic), full.bytes);
  EXPECT_EQ(traffic.literal_bytes, full.bytes.size());
}

TEST(Delta, SmallEditsOfALargeFileCostLittle) {
  std::mt19937_64 rng(3);
  ByteVec data = random_bytes(16 << 20, rng);
  const Side basis = receiver_side(data);
  // Ten 100-byte insertions, spread out.
  for (int i = 0; i < 10; ++i) {
    ByteVec extra = random_bytes(100, rng);
    const size_t at = (data.size() / 10) * static_cast<size_t>(i) + 12345;
    data.insert(data.begin() + static_cast<ptrdiff_t>(at), extra.begin(), extra.end());
  }
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(basis, sender_side(data, basis), &traffic), data);
  // Each costs about one 2 KiB chunk of literal bytes and a few probes per tree level.
  EXPECT_LT(traffic.literal_bytes, 10u * 8192);
  EXPECT_LT(traffic.total(), 10u * 12000);
  EXPECT_LE(traffic.round_trips, basis.hashes.tree.height());
}

// A small file (64 KiB: 256-byte chunks, ~14 parents and the root) with one 100-byte
// insert: the first probe asks about the root and its children only, and the second about
// the chunks of the parents the receiver lacks, not about every chunk.
TEST(Delta, OneInsertIntoASmallFileCostsAFewHundredBytesBesidesTheChunk) {
  std::mt19937_64 rng(12);
  uint64_t totals = 0;
  uint64_t literals = 0;
  uint64_t keys = 0;
  constexpr int kFiles = 100;
  for (int i = 0; i < kFiles; ++i) {
    ByteVec data = random_bytes(64 << 10, rng);
    const Side basis = receiver_side(data);
    ASSERT_EQ(basis.hashes.tree.params().bits, 8u);
    const ByteVec extra = random_bytes(100, rng);
    data.insert(data.begin() + static_cast<ptrdiff_t>(data.size() / 3), extra.begin(), extra.end());
    DeltaTraffic traffic;
    EXPECT_EQ(rebuild(basis, sender_side(data, basis), &traffic), data);
    EXPECT_EQ(traffic.round_trips, 2u);
    totals += traffic.total();
    literals += traffic.literal_bytes;
    keys += traffic.probe_keys;
  }
  std::cout << "[ delta    ] 64 KiB file, one 100-byte insert, mean of " << kFiles << ": "
            << totals / kFiles << " bytes, " << literals / kFiles << " literal, " << keys / kFiles
            << " keys\n";
  // Asking about every node (about 240 keys) would cost some 1,600 bytes more.
  EXPECT_LT(keys / kFiles, 70u);
  EXPECT_LT((totals - literals) / kFiles, 700u);
  EXPECT_LT(literals / kFiles, 1100u);
}

TEST(Delta, AMovedBlockIsCopiedNotSent) {
  std::mt19937_64 rng(4);
  ByteVec data = random_bytes(8 << 20, rng);
  const Side basis = receiver_side(data);
  ByteVec block(data.begin() + 1000000, data.begin() + 3000000);
  data.erase(data.begin() + 1000000, data.begin() + 3000000);
  data.insert(data.begin() + 5000000, block.begin(), block.end());
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(basis, sender_side(data, basis), &traffic), data);
  EXPECT_LT(traffic.literal_bytes, 4u * 8192);
  EXPECT_LT(traffic.total(), 40000u);
}

TEST(Delta, ContentFromAnotherFileOfTheReceiver) {
  std::mt19937_64 rng(5);
  // The receiver has an old version of a different file, and the basis is unrelated.
  const ByteVec renamed = random_bytes(300000, rng);
  const Side basis = receiver_side(random_bytes(200000, rng));
  ChunkIndex index(basis.hashes.tree.params());
  const FileHashes other = hash_bytes(renamed, basis.hashes.tree.params());
  EXPECT_EQ(index.add(other.tree), 1u);
  EXPECT_EQ(index.file_count(), 1u);
  ByteVec changed = renamed;
  changed[150000] ^= 0xff;
  fsio::UniqueFd other_fd = memfd_with(renamed);
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(basis, sender_side(changed, basis), &traffic, &index, {other_fd.get()}),
            changed);
  EXPECT_LT(traffic.literal_bytes, 4000u);
  // Without the index, all of it is sent.
  EXPECT_EQ(rebuild(basis, sender_side(changed, basis), &traffic), changed);
  EXPECT_GT(traffic.literal_bytes, 290000u);
}

// No basis at all (a file new at its path): a renamed file is found whole by its root in a
// probe of one key, and an edited one level by level from there.
TEST(Delta, WithoutBasisTheRootIsAskedAboutAlone) {
  std::mt19937_64 rng(7);
  const ByteVec renamed = random_bytes(3 << 20, rng);
  const ChunkParams params = chunk_params_for_size(renamed.size());
  const Side empty{{}, hash_bytes({}, params)};
  ChunkIndex index(params);
  const ByteVec other = random_bytes(100000, rng);
  index.add(hash_bytes(other, params).tree);
  EXPECT_EQ(index.add(hash_bytes(renamed, params).tree), 2u);
  fsio::UniqueFd other_fd = memfd_with(other);
  fsio::UniqueFd renamed_fd = memfd_with(renamed);
  DeltaTraffic traffic;
  EXPECT_EQ(rebuild(empty, sender_side(renamed, empty), &traffic, &index,
                    {other_fd.get(), renamed_fd.get()}),
            renamed);
  EXPECT_EQ(traffic.probe_keys, 1u);
  EXPECT_EQ(traffic.round_trips, 1u);
  EXPECT_EQ(traffic.literal_bytes, 0u);
  EXPECT_LT(traffic.total(), 100u);

  ByteVec edited = renamed;
  edited[1 << 20] ^= 0xff;
  EXPECT_EQ(rebuild(empty, sender_side(edited, empty), &traffic, &index,
                    {other_fd.get(), renamed_fd.get()}),
            edited);
  EXPECT_LT(traffic.literal_bytes, 4096u);
  EXPECT_LT(traffic.total(), 8192u);
}

TEST(Delta, ChunkIndexRefusesOtherParameters) {
  ChunkIndex index(ChunkParams::for_bits(10));
  std::mt19937_64 rng(6);
  const ByteVec data = random_bytes(10000, rng);
  EXPECT_THROW(index.add(hash_bytes(data, ChunkParams::for_bits(11)).tree), std::invalid_argument);
  const FileHashes basis = hash_bytes(data, ChunkParams::for_bits(11));
  EXPECT_THROW(DeltaResponder(basis.tree, &index), std::invalid_argument);
  const FileHashes same = hash_bytes(data, ChunkParams::for_bits(10));
  index.add(same.tree);
  const auto found = index.find(hash_key(same.tree.root_hash()));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->file, 1u);
  EXPECT_EQ(found->offset, 0u);
  EXPECT_EQ(found->length, data.size());
  EXPECT_FALSE(index.find(hash_key(same.tree.root_hash()) + 1));
}

// ---- what the receiver detects ----

struct Exchange {
  Side basis;
  Side mine;
  LoopbackResult result;
};

Exchange edited_exchange(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Exchange x;
  x.basis = receiver_side(random_bytes(400000, rng));
  ByteVec changed = x.basis.bytes;
  ByteVec extra = random_bytes(3000, rng);
  changed.insert(changed.begin() + 200000, extra.begin(), extra.end());
  x.mine = sender_side(changed, x.basis);
  x.result = run_delta_loopback(x.basis.hashes.tree, nullptr, x.mine.hashes, x.mine.bytes);
  return x;
}

bool applies(const std::vector<RecipePart>& recipe, const ByteVec& basis, std::string& error) {
  fsio::UniqueFd basis_fd = memfd_with(basis);
  fsio::UniqueFd out_fd = memfd_with({});
  return apply_recipe(recipe, {basis_fd.get()}, out_fd.get(), error);
}

TEST(Delta, CorruptedBasisIsCaught) {
  Exchange x = edited_exchange(7);
  std::string error;
  ASSERT_TRUE(applies(x.result.recipe, x.basis.bytes, error)) << error;
  ByteVec corrupted = x.basis.bytes;
  corrupted[50000] ^= 1;
  EXPECT_FALSE(applies(x.result.recipe, corrupted, error));
  EXPECT_NE(error.find("XXH3-128"), std::string::npos) << error;
  // A basis that got shorter: the copy runs past its end.
  ByteVec shorter(x.basis.bytes.begin(), x.basis.bytes.begin() + 300000);
  EXPECT_FALSE(applies(x.result.recipe, shorter, error));
  EXPECT_NE(error.find("past the end"), std::string::npos) << error;
}

TEST(Delta, CorruptedRecipeIsCaught) {
  Exchange x = edited_exchange(8);
  std::string error;
  ASSERT_EQ(x.result.recipe.size(), 1u);
  const RecipePart good = x.result.recipe[0];
  ASSERT_GE(good.ops.size(), 3u);

  auto with = [&](auto change) {
    std::vector<RecipePart> recipe = {good};
    change(recipe[0]);
    return recipe;
  };
  // A flipped literal byte.
  EXPECT_FALSE(applies(with([](RecipePart& p) { p.literals[10] ^= 1; }), x.basis.bytes, error));
  EXPECT_NE(error.find("XXH3-128"), std::string::npos);
  // A copy from the wrong place.
  EXPECT_FALSE(applies(with([](RecipePart& p) { p.ops[0].offset += 1; }), x.basis.bytes, error));
  // A wrong size.
  EXPECT_FALSE(applies(with([](RecipePart& p) { p.total_size += 1; }), x.basis.bytes, error));
  EXPECT_NE(error.find("expected"), std::string::npos);
  // A wrong digest.
  EXPECT_FALSE(applies(with([](RecipePart& p) { p.digest[0] ^= 1; }), x.basis.bytes, error));
  // A copy from a file the receiver has no descriptor for.
  EXPECT_FALSE(applies(with([](RecipePart& p) { p.ops[0].file = 3; }), x.basis.bytes, error));
  // A literal op outside the literal bytes.
  EXPECT_FALSE(applies(with([](RecipePart& p) {
                         for (RecipeOp& op : p.ops) {
                           if (op.kind == RecipeOp::Kind::literal) op.length += 1 << 20;
                         }
                       }),
                       x.basis.bytes, error));
  EXPECT_NE(error.find("outside"), std::string::npos);
  // A recipe without its last part, and one with a part after the last.
  RecipePart not_last = good;
  not_last.last = false;
  EXPECT_FALSE(applies({not_last}, x.basis.bytes, error));
  EXPECT_NE(error.find("ended before"), std::string::npos);
  EXPECT_FALSE(applies({good, good}, x.basis.bytes, error));
  EXPECT_NE(error.find("after the last"), std::string::npos);
  // Each of the encoded recipe's bytes flipped: refused by the decoder or by the check,
  // never applied as if nothing happened.
  const Bytes encoded = encode_recipe_part(good);
  for (size_t i = 0; i < encoded.size(); i += 97) {
    Bytes damaged = encoded;
    damaged[i] ^= 0x10;
    std::optional<RecipePart> part = decode_recipe_part(damaged, error);
    if (part) {
      EXPECT_FALSE(applies({*part}, x.basis.bytes, error)) << "byte " << i;
    }
  }
}

// ---- the prober's protocol checks ----

TEST(DeltaProber, RefusesAnswersThatDoNotFit) {
  std::mt19937_64 rng(9);
  const Side basis = receiver_side(random_bytes(100000, rng));
  ByteVec changed = basis.bytes;
  changed[5] ^= 1;
  const Side mine = sender_side(changed, basis);
  DeltaResponder responder(basis.hashes.tree);
  std::string error;

  DeltaProber prober(mine.hashes.tree, responder.signature());
  EXPECT_FALSE(prober.take_answer(encode_answer(Answer{{std::nullopt}}), error));
  EXPECT_NE(error.find("no probe"), std::string::npos);
  std::optional<Bytes> probe = prober.next_probe();
  ASSERT_TRUE(probe);
  std::optional<Probe> decoded = decode_probe(*probe, error);
  ASSERT_TRUE(decoded);
  const size_t count = decoded->keys.size();
  ASSERT_GT(count, 1u);
  // Too few entries.
  Answer short_answer;
  short_answer.found.resize(count - 1);
  EXPECT_FALSE(prober.take_answer(encode_answer(short_answer), error));
  EXPECT_NE(error.find("entries"), std::string::npos);
  // Content placed past the end of the basis.
  Answer past;
  past.found.resize(count);
  past.found[0] = Location{0, basis.bytes.size() - 10};
  EXPECT_FALSE(prober.take_answer(encode_answer(past), error));
  EXPECT_NE(error.find("past the end"), std::string::npos);
  // Garbage.
  EXPECT_FALSE(prober.take_answer(Bytes{1, 2, 3}, error));
  // Nothing was consumed: the genuine answer still fits.
  EXPECT_EQ(prober.in_flight(), 1u);
  std::optional<Bytes> answer = responder.answer(*probe, error);
  ASSERT_TRUE(answer) << error;
  EXPECT_TRUE(prober.take_answer(*answer, error)) << error;
  EXPECT_THROW(
      DeltaProber(hash_bytes(changed, ChunkParams::for_bits(12)).tree, responder.signature()),
      std::invalid_argument);
}

TEST(DeltaProber, PlanOnlyWhenDone) {
  std::mt19937_64 rng(10);
  const Side basis = receiver_side(random_bytes(50000, rng));
  const Side mine = sender_side(random_bytes(50000, rng), basis);
  DeltaResponder responder(basis.hashes.tree);
  DeltaProber prober(mine.hashes.tree, responder.signature());
  ASSERT_TRUE(prober.next_probe());
  EXPECT_FALSE(prober.done());
  EXPECT_THROW(prober.plan(), std::logic_error);
}

TEST(DeltaResponder, RefusesMalformedProbes) {
  std::mt19937_64 rng(11);
  const Side basis = receiver_side(random_bytes(50000, rng));
  DeltaResponder responder(basis.hashes.tree);
  std::string error;
  EXPECT_FALSE(responder.answer(Bytes{kDeltaVersion, 1, 0, 0}, error));
  EXPECT_NE(error.find("probe"), std::string::npos);
  // A key it has, at its place.
  const TreeNode& leaf = basis.hashes.tree.node(3);
  const Answer answer = responder.answer(Probe{{hash_key(leaf.hash), 12345}});
  ASSERT_EQ(answer.found.size(), 2u);
  ASSERT_TRUE(answer.found[0]);
  EXPECT_EQ(*answer.found[0], (Location{0, leaf.offset}));
  EXPECT_FALSE(answer.found[1]);
}

// ---- recipe parts ----

TEST(RecipeEncoder, SplitsLongLiteralsAndManyOpsOverParts) {
  std::mt19937_64 rng(12);
  const ByteVec data = random_bytes(100000, rng);
  DeltaPlan plan;
  plan.size = data.size();
  // Alternating literal and copy pieces of the sender's file against a basis that is the
  // same file, so the result is checkable.
  for (uint64_t at = 0; at < data.size();) {
    const uint64_t n = std::min<uint64_t>(data.size() - at, rng() % 3000 + 1);
    plan.ops.push_back({rng() % 2 ? PlanOp::Kind::copy : PlanOp::Kind::literal, 0, at, n});
    at += n;
  }
  const Digest128 digest = digest_bytes(data.data(), data.size());
  RecipeEncoder encoder(plan, digest, 5, 1000);
  std::vector<RecipePart> parts;
  int error = 0;
  while (auto part = encoder.next(read_from_memory(data), error)) {
    EXPECT_LE(part->ops.size(), 5u);
    EXPECT_LE(part->literals.size(), 1000u);
    std::string why;
    auto back = decode_recipe_part(encode_recipe_part(*part), why);
    ASSERT_TRUE(back) << why;
    parts.push_back(*back);
  }
  EXPECT_EQ(error, 0);
  EXPECT_TRUE(encoder.finished());
  ASSERT_GT(parts.size(), 10u);
  EXPECT_TRUE(parts.back().last);
  std::string why;
  EXPECT_TRUE(applies(parts, data, why)) << why;
  EXPECT_THROW(RecipeEncoder(plan, digest, 0, 1000), std::invalid_argument);
  EXPECT_THROW(RecipeEncoder(plan, digest, 5, kMaxRecipeLiteral + 1), std::invalid_argument);
}

TEST(RecipeEncoder, ReportsAFileThatShrank) {
  DeltaPlan plan;
  plan.size = 100;
  plan.ops.push_back({PlanOp::Kind::literal, 0, 0, 100});
  const ByteVec shorter(50, 1);
  RecipeEncoder encoder(plan, Digest128{});
  int error = 0;
  EXPECT_FALSE(encoder.next(read_from_memory(shorter), error));
  EXPECT_EQ(error, ENODATA);
  fsio::UniqueFd fd = memfd_with(shorter);
  RecipeEncoder from_fd(plan, Digest128{});
  EXPECT_FALSE(from_fd.next(read_from_fd(fd.get()), error));
  EXPECT_EQ(error, ENODATA);
}

// ---- fsio::RecipeWriter ----

TEST(RecipeWriter, WritesPiecesInOrderAndShowsEveryByte) {
  std::mt19937_64 rng(13);
  const ByteVec a = random_bytes(700000, rng);
  const ByteVec b = random_bytes(1000, rng);
  fsio::UniqueFd a_fd = memfd_with(a);
  fsio::UniqueFd b_fd = memfd_with(b);
  fsio::UniqueFd out = memfd_with({});
  ByteVec seen;
  fsio::RecipeWriter writer(
      out.get(), {a_fd.get(), -1, b_fd.get()},
      [&](std::span<const uint8_t> s) { seen.insert(seen.end(), s.begin(), s.end()); });
  const uint8_t hello[] = {'h', 'i'};
  EXPECT_EQ(writer.copy(0, 100, 600000), 0);
  EXPECT_EQ(writer.literal(hello), 0);
  EXPECT_EQ(writer.copy(2, 10, 990), 0);
  EXPECT_EQ(writer.copy(1, 0, 1), EBADF);
  EXPECT_EQ(writer.copy(3, 0, 1), EBADF);
  EXPECT_EQ(writer.copy(2, 999, 2), ENODATA);
  EXPECT_EQ(writer.copy(0, ~uint64_t{0} - 5, 2), EFBIG);
  ByteVec expected(a.begin() + 100, a.begin() + 600100);
  expected.insert(expected.end(), hello, hello + 2);
  expected.insert(expected.end(), b.begin() + 10, b.end());
  // The failed copy got one byte out before the source ended.
  expected.push_back(b[999]);
  EXPECT_EQ(writer.written(), expected.size());
  EXPECT_EQ(contents_of(out.get()), expected);
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace arsync::merkle
