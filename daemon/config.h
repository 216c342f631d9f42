// Loading and validating photonicd's configuration (DaemonConfig) and the
// chip description it names, from protobuf text-format files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/access_control.h"
#include "phc/proto/text_proto.h"
#include "photonic/v1/config.pb.h"

namespace phc::daemon {

// TLS material read from the files the config names.
struct TlsMaterial {
  std::string certificate_pem;
  std::string private_key_pem;
  std::string client_ca_pem;  // empty: client certificates not checked
  bool require_client_certificate = false;
};

struct LoadedConfig {
  photonic::v1::DaemonConfig daemon;
  photonic::v1::ChipDescription chip;  // validated
  std::string chip_source;             // file path, or "inline"
  AccessControl access;                // from auth.tokens_file; open when unset
  std::optional<TlsMaterial> tls;      // unset: plaintext
};

// Reads the daemon config, resolves and reads the chip description, applies
// defaults and validates both. Nothing is started.
absl::StatusOr<LoadedConfig> LoadConfigFile(const std::filesystem::path& path);

// Validates a parsed daemon config (not the chip) and fills defaults.
absl::Status ValidateDaemonConfig(photonic::v1::DaemonConfig& config);

}  // namespace phc::daemon
