// Who may call what: bearer tokens with two roles, checked by every service
// handler before it touches anything.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace phc::daemon {

enum class Role { kReader = 0, kOperator = 1 };

class AccessControl {
 public:
  // No tokens: every caller is an operator.
  AccessControl() = default;
  // "ROLE TOKEN" per line, # comments. INVALID_ARGUMENT naming file and
  // line for a bad line, NOT_FOUND for a missing file.
  static absl::StatusOr<AccessControl> FromTokensFile(const std::filesystem::path& path);
  static absl::StatusOr<AccessControl> FromTokensText(const std::string& text,
                                                      const std::string& source);

  bool enabled() const { return !tokens_.empty(); }
  // OK, UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (a
  // reader calling an operator method), at the service edge.
  grpc::Status Check(const grpc::ServerContextBase& context, Role needed) const;
  absl::Status CheckToken(std::string_view authorization_header, Role needed) const;

 private:
  std::map<std::string, Role, std::less<>> tokens_;
};

}  // namespace phc::daemon
