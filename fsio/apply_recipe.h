// Writes a file from a delta recipe's pieces, in order: ranges of files the receiver
// already has (its basis, or other local files) and bytes that came over the wire. Every
// byte is written with a positional write at the place it belongs, and shown to an observer
// on the way (the caller hashes the result without reading it back). What the pieces mean
// and whether the result is right is the caller's business (merkle/recipe_applier.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace arsync::fsio {

class RecipeWriter {
 public:
  using Observer = std::function<void(std::span<const uint8_t>)>;

  // Writes to out_fd from offset 0 (a new, empty file; never one of the sources). sources[i]
  // is the descriptor of the file that copies name as file i (-1 if there is none).
  RecipeWriter(int out_fd, std::vector<int> sources, Observer observer);

  // Gives copies from `file` the descriptor `fd` (the caller keeps it open), for sources
  // opened only once a recipe names them.
  void set_source(uint32_t file, int fd);

  // `length` bytes of source `file` at `offset`. 0, or an errno value: EBADF for a file
  // without a descriptor, ENODATA if the source ends before offset + length, EFBIG past
  // 2^63 bytes, or whatever pread/pwrite report.
  int copy(uint32_t file, uint64_t offset, uint64_t length);
  // Bytes in memory. 0 or an errno value.
  int literal(std::span<const uint8_t> bytes);

  // --inplace: out_fd is the file sources[0] names. A copy from source 0 to the place it
  // already is is read (for the observer) but not written again. Copies that would read
  // what was already overwritten must not be given (RecipeApplier refuses them).
  void set_in_place(bool in_place) { in_place_ = in_place; }

  // Bytes written so far: where the next piece goes.
  uint64_t written() const { return written_; }

 private:
  int write_out(std::span<const uint8_t> bytes, bool already_there = false);

  int out_fd_;
  std::vector<int> sources_;
  Observer observer_;
  uint64_t written_ = 0;
  bool in_place_ = false;
  std::unique_ptr<uint8_t[]> buffer_;
};

}  // namespace arsync::fsio
