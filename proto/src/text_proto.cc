#include "phc/proto/text_proto.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace phc {
namespace {

class CollectFirstError final : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectFirstError(absl::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_error_.empty()) {
      first_error_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }

  const std::string& first_error() const { return first_error_; }

 private:
  std::string source_;
  std::string first_error_;
};

}  // namespace

absl::Status ParseTextProto(std::string_view text, absl::string_view source_name,
                            google::protobuf::Message& message) {
  CollectFirstError errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &message)) {
    return absl::InvalidArgumentError(errors.first_error().empty()
                                          ? absl::StrCat(source_name, ": cannot parse")
                                          : errors.first_error());
  }
  return absl::OkStatus();
}

}  // namespace phc
