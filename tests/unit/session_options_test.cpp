// The options of sync_start that are not plain booleans: --partial-dir is a path from the
// peer, so the helper takes only a relative one that stays beneath each file's directory.
#include <gtest/gtest.h>

#include "control/session_messages.h"

namespace arsync::control {
namespace {

SyncStart start_with(const engine::SyncOptions& options) {
  SyncStart start;
  start.direction = Direction::push;
  start.paths = {"dst"};
  start.options = options;
  return start;
}

TEST(SessionOptions, InplaceAndPartialDirRoundTrip) {
  engine::SyncOptions options;
  options.inplace = true;
  SyncStart back = parse_sync_start(make_sync_start(start_with(options)));
  EXPECT_TRUE(back.options.inplace);
  EXPECT_TRUE(back.options.partial_dir.empty());

  options.inplace = false;
  options.partial_dir = ".arsync-partial/sub";
  back = parse_sync_start(make_sync_start(start_with(options)));
  EXPECT_EQ(back.options.partial_dir, ".arsync-partial/sub");
  EXPECT_TRUE(back.options.partial) << "--partial-dir implies --partial";
}

TEST(SessionOptions, PartialDirFromThePeerMustStayBeneath) {
  for (const char* bad : {"..", "../up", "a/../b", "/abs", "/", "", "a//b", "./a", "a/./b"}) {
    SCOPED_TRACE(bad);
    nlohmann::json message = make_sync_start(start_with({}));
    message["options"]["partial_dir"] = bad;
    EXPECT_THROW(parse_sync_start(message), ProtocolError);
  }
  nlohmann::json not_a_string = make_sync_start(start_with({}));
  not_a_string["options"]["partial_dir"] = 5;
  EXPECT_THROW(parse_sync_start(not_a_string), ProtocolError);
  nlohmann::json both = make_sync_start(start_with({}));
  both["options"]["partial_dir"] = "p";
  both["options"]["inplace"] = true;
  EXPECT_THROW(parse_sync_start(both), ProtocolError);
  nlohmann::json trailing = make_sync_start(start_with({}));
  trailing["options"]["partial_dir"] = "p/";
  EXPECT_EQ(parse_sync_start(trailing).options.partial_dir, "p");
}

TEST(SessionOptions, LocalPartialDirMayBeAbsolute) {
  EXPECT_EQ(engine::check_partial_dir("/var/tmp/partial", true), "");
  EXPECT_NE(engine::check_partial_dir("/var/tmp/partial", false), "");
  EXPECT_NE(engine::check_partial_dir("x/../..", true), "");
  EXPECT_EQ(engine::check_partial_dir(".rsync-partial", false), "");
}

}  // namespace
}  // namespace arsync::control
