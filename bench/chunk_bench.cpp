// Throughput of content-defined chunking and hashing (merkle/), against memcpy and plain
// XXH3-128 on the same buffer: 256 MiB of random bytes, cut with the parameters a 256 MiB
// file gets (4 KiB average chunks). Results and the command line: bench/README.md.
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <xxhash.h>

#include "merkle/chunk_params.h"
#include "merkle/chunker.h"
#include "merkle/parallel_chunker.h"

namespace {

using namespace arsync::merkle;

constexpr size_t kBufferSize = size_t{256} << 20;

const std::vector<uint8_t>& buffer() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> out(kBufferSize);
    std::mt19937_64 rng(42);
    for (size_t i = 0; i < out.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(out.data() + i, &v, 8);
    }
    return out;
  }();
  return data;
}

const ChunkParams& params() {
  static const ChunkParams p = chunk_params_for_size(kBufferSize);
  return p;
}

void report(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(kBufferSize));
}

void BM_Memcpy(benchmark::State& state) {
  const auto& in = buffer();
  std::vector<uint8_t> out(in.size());
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state);
}

void BM_Xxh3_128(benchmark::State& state) {
  const auto& in = buffer();
  for (auto _ : state) benchmark::DoNotOptimize(XXH3_128bits(in.data(), in.size()));
  report(state);
}

void BM_ChunkOnly(benchmark::State& state) {
  const auto& in = buffer();
  size_t chunks = 0;
  for (auto _ : state) {
    chunks = 0;
    for (size_t pos = 0; pos < in.size(); ++chunks) {
      pos += cut_length({in.data() + pos, in.size() - pos}, params());
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.counters["chunks"] = static_cast<double>(chunks);
  report(state);
}

void BM_ChunkAndHash(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(chunk_and_hash(buffer(), params()).size());
  report(state);
}

void BM_ChunkAndHashParallel(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(chunk_and_hash_parallel(buffer(), params()).size());
  }
  report(state);
}

// Each iteration handles the whole 256 MiB; real time, since the parallel one uses every
// core.
BENCHMARK(BM_Memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Xxh3_128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ChunkOnly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ChunkAndHash)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ChunkAndHashParallel)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
