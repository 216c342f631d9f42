#include "daemon/config.h"

#include <tuple>

#include "absl/strings/str_cat.h"
#include "daemon/state_io.h"
#include "photonsim/chip_description.h"
#include "spdlog/spdlog.h"

namespace phc::daemon {
namespace {

constexpr std::string_view kDefaultListenAddress = "127.0.0.1:50051";

}  // namespace

absl::Status ValidateDaemonConfig(photonic::v1::DaemonConfig& config) {
  if (config.listen_address().empty())
    config.set_listen_address(std::string(kDefaultListenAddress));
  if (config.listen_address().starts_with("unix:") && config.listen_address().size() == 5) {
    return absl::InvalidArgumentError("config: listen_address \"unix:\" names no socket path");
  }
  if (config.backend() == photonic::v1::BACKEND_SERIAL) {
    const auto& serial = config.serial();
    for (const auto& [field, path] : {std::pair{"serial.heaters", serial.heaters()},
                                      std::pair{"serial.modulators", serial.modulators()},
                                      std::pair{"serial.adc", serial.adc()}}) {
      if (path.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config: backend BACKEND_SERIAL needs ", field, " (a device path)"));
      }
    }
  } else if (config.backend() != photonic::v1::BACKEND_SIM) {
    return absl::InvalidArgumentError(
        absl::StrCat("config: backend ", photonic::v1::Backend_Name(config.backend()),
                     " is not supported; set backend: BACKEND_SIM or BACKEND_SERIAL"));
  }
  if (const std::string& http = config.http().listen_address(); !http.empty()) {
    const std::size_t colon = http.rfind(':');
    if (http.starts_with("unix:") || colon == std::string::npos || colon == 0 ||
        colon + 1 == http.size()) {
      return absl::InvalidArgumentError(absl::StrCat("config: http.listen_address \"", http,
                                                     "\" is not host:port (port 0: any free)"));
    }
  }
  if (config.http().max_connections() > 100000) {
    return absl::InvalidArgumentError("config: http.max_connections is over 100000");
  }
  if (config.log_level().empty()) config.set_log_level("info");
  if (spdlog::level::from_str(config.log_level()) == spdlog::level::off &&
      config.log_level() != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("config: log_level \"", config.log_level(),
                     "\" is not one of trace, debug, info, warn, error, critical, off"));
  }
  if (config.chip_source_case() == photonic::v1::DaemonConfig::CHIP_SOURCE_NOT_SET) {
    return absl::InvalidArgumentError("config: set chip_file or chip");
  }
  return absl::OkStatus();
}

namespace {

// A file the config names, relative to the config's directory.
absl::StatusOr<std::string> ReadNamedFile(const std::filesystem::path& config,
                                          const std::string& field, const std::string& name) {
  std::filesystem::path path = name;
  if (path.is_relative()) path = config.parent_path() / path;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(config.string(), ": ", field, " \"", name, "\": ", text.status().message()));
  }
  return text;
}

absl::Status LoadSecurity(const std::filesystem::path& config, LoadedConfig& loaded) {
  const photonic::v1::DaemonConfig& d = loaded.daemon;
  if (d.has_auth()) {
    if (d.auth().tokens_file().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.string(), ": auth.tokens_file is empty"));
    }
    absl::StatusOr<std::string> tokens =
        ReadNamedFile(config, "auth.tokens_file", d.auth().tokens_file());
    if (!tokens.ok()) return tokens.status();
    absl::StatusOr<AccessControl> access =
        AccessControl::FromTokensText(*tokens, d.auth().tokens_file());
    if (!access.ok()) return access.status();
    loaded.access = *std::move(access);
  }
  if (d.has_tls()) {
    if (d.listen_address().starts_with("unix:")) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.string(), ": tls needs a TCP listen_address, not a Unix socket"));
    }
    TlsMaterial tls;
    for (auto [field, name, out] :
         {std::tuple{"tls.certificate_file", d.tls().certificate_file(), &tls.certificate_pem},
          std::tuple{"tls.private_key_file", d.tls().private_key_file(), &tls.private_key_pem},
          std::tuple{"tls.client_ca_file", d.tls().client_ca_file(), &tls.client_ca_pem}}) {
      if (name.empty()) {
        if (out == &tls.client_ca_pem) continue;
        return absl::InvalidArgumentError(absl::StrCat(config.string(), ": ", field, " is empty"));
      }
      absl::StatusOr<std::string> pem = ReadNamedFile(config, field, name);
      if (!pem.ok()) return pem.status();
      *out = *std::move(pem);
    }
    tls.require_client_certificate = d.tls().require_client_certificate();
    if (tls.require_client_certificate && tls.client_ca_pem.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.string(), ": tls.require_client_certificate needs tls.client_ca_file"));
    }
    loaded.tls = std::move(tls);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadedConfig> LoadConfigFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok())
    return absl::NotFoundError(absl::StrCat("config file: ", text.status().message()));

  LoadedConfig loaded;
  if (absl::Status s = ParseTextProto(*text, path.string(), loaded.daemon); !s.ok()) return s;
  if (absl::Status s = ValidateDaemonConfig(loaded.daemon); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", s.message()));
  }

  if (loaded.daemon.has_chip()) {
    loaded.chip = loaded.daemon.chip();
    loaded.chip_source = "inline";
  } else {
    std::filesystem::path chip_path = loaded.daemon.chip_file();
    if (chip_path.is_relative()) chip_path = path.parent_path() / chip_path;
    absl::StatusOr<std::string> chip_text = ReadFileToString(chip_path);
    if (!chip_text.ok()) {
      return absl::NotFoundError(absl::StrCat(path.string(), ": chip_file \"",
                                              loaded.daemon.chip_file(),
                                              "\": ", chip_text.status().message()));
    }
    if (absl::Status s = ParseTextProto(*chip_text, chip_path.string(), loaded.chip); !s.ok()) {
      return s;
    }
    loaded.chip_source = chip_path.string();
  }
  if (absl::Status s = photonsim::ValidateChipDescription(loaded.chip); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(loaded.chip_source, ": ", s.message()));
  }
  if (absl::Status s = LoadSecurity(path, loaded); !s.ok()) return s;
  // Device paths relative to the config file (photonsim --link DIR).
  photonic::v1::SerialBackendConfig& serial = *loaded.daemon.mutable_serial();
  for (std::string* device : {serial.mutable_heaters(), serial.mutable_modulators(),
                              serial.mutable_adc(), serial.mutable_tec()}) {
    if (!device->empty() && std::filesystem::path(*device).is_relative()) {
      *device = (path.parent_path() / *device).string();
    }
  }
  return loaded;
}

}  // namespace phc::daemon
