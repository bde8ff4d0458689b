#include "merkle/delta_loopback.h"

#include <stdexcept>
#include <string>

#include "merkle/delta_prober.h"
#include "merkle/delta_responder.h"
#include "merkle/recipe_encoder.h"

namespace arsync::merkle {

LoopbackResult run_delta_loopback(const MerkleTree& basis, const ChunkIndex* elsewhere,
                                  const FileHashes& mine, std::span<const uint8_t> my_bytes) {
  LoopbackResult out;
  DeltaTraffic& t = out.traffic;
  std::string error;
  auto fail = [&error](const char* step) {
    throw std::runtime_error(std::string("delta loopback: ") + step + ": " + error);
  };

  // Receiver: the signature.
  DeltaResponder responder(basis, elsewhere);
  const Bytes signature_bytes = encode_signature(responder.signature());
  t.signature_bytes = signature_bytes.size();

  // Sender: probes until it knows enough; every probe sent before waiting is one round.
  std::optional<Signature> signature = decode_signature(signature_bytes, error);
  if (!signature) fail("signature");
  DeltaProber prober(mine.tree, *signature);
  while (!prober.done()) {
    std::vector<Bytes> probes;
    while (std::optional<Bytes> probe = prober.next_probe()) probes.push_back(std::move(*probe));
    ++t.round_trips;
    for (const Bytes& probe : probes) {
      t.probe_bytes += probe.size();
      ++t.probes;
      std::optional<Probe> keys = decode_probe(probe, error);
      if (!keys) fail("probe");
      t.probe_keys += keys->keys.size();
      std::optional<Bytes> answer = responder.answer(probe, error);
      if (!answer) fail("probe");
      t.answer_bytes += answer->size();
      if (!prober.take_answer(*answer, error)) fail("answer");
    }
  }

  // Sender: the recipe; receiver: decodes it.
  DeltaPlan plan = prober.plan();
  t.literal_bytes = plan.literal_bytes();
  RecipeEncoder encoder(std::move(plan), mine.digest);
  const ReadAt read = read_from_memory(my_bytes);
  int read_error = 0;
  while (std::optional<RecipePart> part = encoder.next(read, read_error)) {
    const Bytes bytes = encode_recipe_part(*part);
    t.recipe_bytes += bytes.size();
    ++t.recipe_parts;
    std::optional<RecipePart> decoded = decode_recipe_part(bytes, error);
    if (!decoded) fail("recipe");
    out.recipe.push_back(std::move(*decoded));
  }
  if (read_error) {
    error = "reading the new file failed (errno " + std::to_string(read_error) + ")";
    fail("recipe");
  }
  return out;
}

}  // namespace arsync::merkle
