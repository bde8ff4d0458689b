// Binary encodings of the data-plane messages (file-list batches, content requests,
// content chunks, failures), as they travel in frames over SSH and, later, QUIC streams.
// Every decoder treats its input as hostile: each length is checked against what remains
// and against a fixed maximum before anything is allocated, and a malformed input gives
// an error string, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "arsync/engine/channel.h"
#include "fsio/byte_buffer.h"
#include "fsio/walk_tree.h"

namespace arsync::dataplane {

inline constexpr uint8_t kCodecVersion = 1;
// DirBatch has its own version: 2 shares name prefixes and leaves out the fields that repeat
// the previous entry's (version 1 sent every field of every entry).
inline constexpr uint8_t kBatchVersion = 2;
inline constexpr size_t kMaxBatchEntries = 1 << 20;  // entries in one DirBatch
inline constexpr size_t kMaxRequestIds = 1 << 16;    // ids in one ContentRequest
inline constexpr size_t kMaxChunkData = 4 << 20;     // bytes in one ContentChunk
inline constexpr size_t kMaxMessageText = 4096;      // ContentFailed::message
// The delta message a DeltaMessage carries: more than the largest RecipePart (4 MiB of
// literals and 65,536 ops of at most 24 bytes), less than a frame.
inline constexpr size_t kMaxDeltaMessage = 7 << 20;

using Bytes = std::vector<uint8_t>;

Bytes encode_batch(const fsio::DirBatch& batch);
std::optional<fsio::DirBatch> decode_batch(std::span<const uint8_t> in, std::string& error);

Bytes encode_request(const engine::ContentRequest& request);
std::optional<engine::ContentRequest> decode_request(std::span<const uint8_t> in,
                                                     std::string& error);

// A frame's header (see control/frame.h) fits in the room a chunk keeps in front, with the
// chunk's own header.
inline constexpr size_t kFrameRoom = 5;
inline constexpr size_t kChunkFrontRoom = engine::ContentChunk::kFrontRoom;
inline constexpr size_t kChunkBackRoom = engine::ContentChunk::kBackRoom;

Bytes encode_chunk(const engine::ContentChunk& chunk);
// The encoding built around the chunk's own bytes, with kFrameRoom bytes still free in front:
// no copy when the chunk has the room its type asks for (as the sender's chunks do).
fsio::ByteBuffer encode_chunk_payload(engine::ContentChunk&& chunk);
std::optional<engine::ContentChunk> decode_chunk(std::span<const uint8_t> in, std::string& error);
// Takes over the frame's buffer: the chunk's data is the part of it after the header.
std::optional<engine::ContentChunk> decode_chunk(fsio::ByteBuffer&& in, std::string& error);

Bytes encode_digest(const engine::ContentDigest& digest);
std::optional<engine::ContentDigest> decode_digest(std::span<const uint8_t> in, std::string& error);

Bytes encode_failed(const engine::ContentFailed& failed);
std::optional<engine::ContentFailed> decode_failed(std::span<const uint8_t> in, std::string& error);

// content_end over QUIC: how many file streams the sender opened, so that the receiver ends
// the content once it has read them all (over SSH the frame is empty).
inline constexpr uint64_t kMaxFileStreamCount = 1ull << 48;
Bytes encode_content_end(uint64_t file_streams);
std::optional<uint64_t> decode_content_end(std::span<const uint8_t> in, std::string& error);

// One message of a file's delta exchange (a signature, an answer, a probe or a recipe part,
// as merkle/delta_codec.h encodes them), addressed to the file's id. Its frame type says
// which it is; the message itself is decoded, as strictly, by the engine, which sends the
// file whole when it does not decode.
struct DeltaMessage {
  uint64_t id = 0;
  Bytes message;

  friend bool operator==(const DeltaMessage&, const DeltaMessage&) = default;
};

Bytes encode_delta(const DeltaMessage& message);
std::optional<DeltaMessage> decode_delta(std::span<const uint8_t> in, std::string& error);

}  // namespace arsync::dataplane
