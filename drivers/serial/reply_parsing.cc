#include "reply_parsing.h"

#include "absl/strings/str_cat.h"

namespace phc::drivers::serial {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string Printable(std::string_view line) {
  std::string shown(line.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return shown;
}

absl::Status Malformed(std::string_view what, std::string_view line) {
  return absl::DataLossError(
      absl::StrCat("malformed ", std::string(what), " reply \"", Printable(line), "\""));
}

}  // namespace phc::drivers::serial
