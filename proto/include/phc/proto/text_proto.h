// Reading protobuf text format (config files, chip and model descriptions,
// calibrations) with errors that name the source, line and column.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace phc {

// INVALID_ARGUMENT "source:line:column: message" on the first parse error.
absl::Status ParseTextProto(std::string_view text, absl::string_view source_name,
                            google::protobuf::Message& message);

}  // namespace phc
