// Bearer tokens and roles: the tokens file's format and errors, and the
// check every service handler makes.
#include "daemon/access_control.h"

#include <gtest/gtest.h>

namespace phc::daemon {
namespace {

constexpr char kTokens[] =
    "# lab tokens\n"
    "reader   reader-token-0123456789\n"
    "\n"
    "operator operator-token-0123456789  # Alice\n";

TEST(AccessControlTest, RolesGateOperatorCalls) {
  auto access = AccessControl::FromTokensText(kTokens, "tokens");
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_TRUE(access->enabled());
  EXPECT_TRUE(access->CheckToken("Bearer reader-token-0123456789", Role::kReader).ok());
  EXPECT_EQ(access->CheckToken("Bearer reader-token-0123456789", Role::kOperator).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(access->CheckToken("Bearer operator-token-0123456789", Role::kOperator).ok());
  EXPECT_TRUE(access->CheckToken("Bearer operator-token-0123456789", Role::kReader).ok());
  for (const char* header :
       {"", "Bearer ", "Bearer reader-token-012345678", "Bearer reader-token-01234567890",
        "reader-token-0123456789", "Basic reader-token-0123456789"}) {
    EXPECT_EQ(access->CheckToken(header, Role::kReader).code(), absl::StatusCode::kUnauthenticated)
        << "\"" << header << "\"";
  }
}

TEST(AccessControlTest, WithoutTokensEveryCallerIsAnOperator) {
  const AccessControl open;
  EXPECT_FALSE(open.enabled());
  EXPECT_TRUE(open.CheckToken("", Role::kOperator).ok());
}

TEST(AccessControlTest, BadTokenFilesNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"reader abcdefghijklmnopq\nadmin abcdefghijklmnopqr\n", "tokens:2: role \"admin\""},
      {"reader\n", "tokens:1: expected"},
      {"reader abcdefghijklmnopq extra\n", "tokens:1: expected"},
      {"operator short\n", "tokens:1: tokens must have at least 16"},
      {"reader abcdefghijklmnopq\noperator abcdefghijklmnopq\n", "tokens:2: token listed twice"},
      {"# nothing\n", "tokens: no tokens"},
  };
  for (const auto& [text, message] : cases) {
    auto access = AccessControl::FromTokensText(text, "tokens");
    ASSERT_FALSE(access.ok()) << text;
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(access.status().message().find(message), std::string::npos) << access.status();
  }
}

}  // namespace
}  // namespace phc::daemon
