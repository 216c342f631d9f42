// What the serial reply parsers (qontrol.cc, scpi.cc) share: trimming a
// field and the DATA_LOSS status for a reply they cannot read. Private to
// the serial backend. Debian's absl::string_view is not std::string_view,
// so these take std::string_view.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace phc::drivers::serial {

// `text` without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view text);

// The first 80 characters of `line`, every byte outside printable ASCII
// shown as '?': safe to put into a log line or a status message.
std::string Printable(std::string_view line);

// DATA_LOSS: malformed <what> reply "<Printable(line)>".
absl::Status Malformed(std::string_view what, std::string_view line);

}  // namespace phc::drivers::serial
