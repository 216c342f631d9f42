#include "daemon/access_control.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/state_io.h"
#include "daemon/status_convert.h"

namespace phc::daemon {

absl::StatusOr<AccessControl> AccessControl::FromTokensFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return FromTokensText(*text, path.string());
}

absl::StatusOr<AccessControl> AccessControl::FromTokensText(const std::string& text,
                                                            const std::string& source) {
  AccessControl access;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string role, token, extra;
    if (!(words >> role)) continue;  // blank
    const auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", number, ": ", why));
    };
    if (!(words >> token) || (words >> extra)) return bad("expected \"ROLE TOKEN\"");
    if (role != "reader" && role != "operator") {
      return bad(absl::StrCat("role \"", role, "\" is not reader or operator"));
    }
    if (token.size() < 16) return bad("tokens must have at least 16 characters");
    if (access.tokens_.contains(token)) return bad("token listed twice");
    access.tokens_[token] = role == "operator" ? Role::kOperator : Role::kReader;
  }
  if (access.tokens_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no tokens"));
  }
  return access;
}

absl::Status AccessControl::CheckToken(std::string_view header, Role needed) const {
  if (!enabled()) return absl::OkStatus();
  constexpr std::string_view kBearer = "Bearer ";
  if (!header.starts_with(kBearer)) {
    return absl::UnauthenticatedError("send \"authorization: Bearer TOKEN\"");
  }
  // Compared with every token in time independent of where they differ.
  const std::string_view candidate = header.substr(kBearer.size());
  const Role* role = nullptr;
  for (const auto& [token, token_role] : tokens_) {
    unsigned char diff = token.size() == candidate.size() ? 0 : 1;
    for (std::size_t i = 0; i < token.size(); ++i) {
      diff |= static_cast<unsigned char>(token[i] ^ (i < candidate.size() ? candidate[i] : 0));
    }
    if (diff == 0) role = &token_role;
  }
  if (role == nullptr) return absl::UnauthenticatedError("unknown token");
  if (*role < needed) {
    return absl::PermissionDeniedError(
        "this call needs an operator token; the token is a reader's");
  }
  return absl::OkStatus();
}

grpc::Status AccessControl::Check(const grpc::ServerContextBase& context, Role needed) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  const std::string_view header = it == metadata.end()
                                      ? std::string_view()
                                      : std::string_view(it->second.data(), it->second.size());
  return ToGrpcStatus(CheckToken(header, needed));
}

}  // namespace phc::daemon
