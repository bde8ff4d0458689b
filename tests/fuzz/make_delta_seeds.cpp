// Writes the seed corpus of the delta-codec fuzz targets: small valid encodings made by the
// encoder itself, one file per message, under <out>/<target>/. scripts/fuzz-smoke runs it
// before fuzzing; its output at the time of writing is committed under tests/fuzz/corpus/.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "merkle/delta_codec.h"

namespace {

using namespace arsync::merkle;
namespace fs = std::filesystem;

void write_seeds(const fs::path& dir, const std::vector<Bytes>& seeds) {
  fs::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02zu", i);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
  }
}

Digest128 digest(uint8_t fill) {
  Digest128 d;
  d.fill(fill);
  return d;
}

std::vector<Bytes> signatures() {
  return {encode_signature({8, 0, digest(0)}), encode_signature({11, 64 << 20, digest(0x5a)}),
          encode_signature({18, kMaxDeltaFileSize, digest(0xff)})};
}

std::vector<Bytes> probes() {
  return {encode_probe({{0}}), encode_probe({{1, 0x0123456789abcdef, ~uint64_t{0}}}),
          encode_probe({std::vector<uint64_t>(20, 0x1111111111111111)})};
}

std::vector<Bytes> answers() {
  return {encode_answer({{std::nullopt}}), encode_answer({{Location{0, 0}}}),
          encode_answer(
              {{Location{0, 4096}, std::nullopt, Location{0, 0}, Location{3, 1 << 20}, std::nullopt,
                std::nullopt, std::nullopt, std::nullopt, Location{0, kMaxDeltaFileSize}}})};
}

std::vector<Bytes> recipes() {
  RecipePart empty_file;
  empty_file.last = true;
  empty_file.digest = digest(1);
  RecipePart middle;
  middle.literals = {'n', 'e', 'w', ' ', 'b', 'y', 't', 'e', 's'};
  middle.ops = {{RecipeOp::Kind::copy, 0, 0, 8192},
                {RecipeOp::Kind::literal, 0, 0, 4},
                {RecipeOp::Kind::copy, 0, 10000, 2048},
                {RecipeOp::Kind::copy, 2, 512, 100},
                {RecipeOp::Kind::literal, 0, 4, 5}};
  RecipePart last = middle;
  last.last = true;
  last.total_size = 8192 + 4 + 2048 + 100 + 5;
  last.digest = digest(0xab);
  return {encode_recipe_part(empty_file), encode_recipe_part(middle), encode_recipe_part(last)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  fs::path out = argv[1];
  write_seeds(out / "fuzz_decode_signature", signatures());
  write_seeds(out / "fuzz_decode_probe", probes());
  write_seeds(out / "fuzz_decode_answer", answers());
  write_seeds(out / "fuzz_decode_recipe", recipes());
  return 0;
}
