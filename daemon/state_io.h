// Files in photonicd's state directory (calibrations, training checkpoints):
// whole-file reads, and writes that replace a file atomically. A reader
// sees the old contents or the new ones, never a mix or a truncated file,
// and a crash at any point leaves one of the two on disk: the new contents
// go to a temporary file beside the target (<path>.tmp), which is synced,
// renamed over the target, and the directory synced.
// Thread safety: no shared state; two writers of one path at the same time
// are not supported (they share the temporary file).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace phc::daemon {

// The whole file. NOT_FOUND if it does not exist; INTERNAL naming the path
// and the system's reason if it cannot be read.
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// Replaces the file at `path` by `contents` atomically (see above),
// creating missing parent directories. On failure the file at `path` is as
// it was and the temporary file is removed; the INTERNAL error names the
// file or directory that failed and the system's reason.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace phc::daemon
