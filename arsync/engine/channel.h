// The one interface between the sender (walks and reads) and the receiver (decides and
// writes). Three logical streams, independent so that neither side can block the other:
// the file list (sender -> receiver), requests (receiver -> sender) and content (sender ->
// receiver). A delta transfer (docs/DELTA.md) runs over the same two streams: its
// signature and answers travel with the requests, its probes and recipe with the content.
// The in-memory channel implements it for local copies; the network transports implement
// it for push and pull.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fsio/byte_buffer.h"
#include "fsio/file_entry.h"
#include "fsio/unique_fd.h"
#include "fsio/walk_tree.h"
#include "merkle/delta_codec.h"

namespace arsync::engine {

// Requests travel in batches (one per directory, typically): a message per file would cost
// a thread hand-off per file locally and a frame per file on the wire.
struct ContentRequest {
  std::vector<uint64_t> ids;
};

// For a file the receiver has an older version of (its basis): the encoded
// merkle::Signature of that basis, instead of a whole-file request. The sender answers with
// probes, or with the whole file if it cannot do a delta.
struct DeltaRequest {
  uint64_t id = 0;
  merkle::Bytes signature;
};

// The receiver's encoded merkle::Answer to the oldest unanswered probe of file `id`.
struct DeltaAnswer {
  uint64_t id = 0;
  merkle::Bytes answer;
};

using RequestMessage = std::variant<ContentRequest, DeltaRequest, DeltaAnswer>;

// In-process only: the open source file itself, so the receiver copies in the kernel
// (copy_file_range) instead of through a buffer.
struct ContentFd {
  uint64_t id = 0;
  std::shared_ptr<fsio::UniqueFd> fd;
  uint64_t size = 0;
  bool maybe_sparse = false;
};

// Content as bytes, in order; the last piece carries the whole-file XXH3-128 that the
// receiver checks before the file takes its final name.
struct ContentChunk {
  // Room a sender leaves around the data, so that a transport can frame it in place.
  static constexpr size_t kFrontRoom = 48;
  static constexpr size_t kBackRoom = 16;

  uint64_t id = 0;
  uint64_t offset = 0;
  fsio::ByteBuffer data;
  bool last = false;
  fsio::Digest128 digest{};
};

// The sender could not provide the content.
struct ContentFailed {
  uint64_t id = 0;
  bool vanished = false;
  std::string message;
  // It is the file's -c digest that could not be computed (a ContentDigest's place), not
  // its content.
  bool digest = false;
};

// The sender's encoded merkle::Probe for file `id`: "do you have these subtrees?".
struct DeltaProbe {
  uint64_t id = 0;
  merkle::Bytes probe;
};

// One encoded merkle::RecipePart of file `id`; the last one ends the file's delta.
struct DeltaRecipe {
  uint64_t id = 0;
  merkle::Bytes part;
};

// With --checksum, the digest (merkle root) of a listed file whose entry said it would
// follow (fsio::FileEntry::digest_follows). A file the sender cannot read gets a
// ContentFailed instead.
struct ContentDigest {
  uint64_t id = 0;
  fsio::Digest128 digest{};
};

using ContentFds = std::vector<ContentFd>;
using ContentMessage =
    std::variant<ContentFds, ContentChunk, ContentFailed, DeltaProbe, DeltaRecipe, ContentDigest>;

class SenderChannel {
 public:
  virtual ~SenderChannel() = default;
  virtual bool can_pass_fds() const = 0;
  virtual void send_batch(fsio::DirBatch&& batch) = 0;
  virtual void end_list() = 0;
  // nullopt once the receiver has asked for everything it wants.
  virtual std::optional<RequestMessage> next_request() = 0;
  virtual void send_content(ContentMessage&& message) = 0;
  virtual void end_content() = 0;
};

class ReceiverChannel {
 public:
  virtual ~ReceiverChannel() = default;
  // nullopt at the end of the list.
  virtual std::optional<fsio::DirBatch> next_batch() = 0;
  // Whether the delta messages can travel (DeltaRequest, DeltaAnswer and their replies);
  // without them the receiver asks for whole files only.
  virtual bool carries_delta() const = 0;
  virtual void request(RequestMessage request) = 0;
  virtual void end_requests() = 0;
  // nullopt once the sender has answered every request.
  virtual std::optional<ContentMessage> next_content() = 0;
};

}  // namespace arsync::engine
