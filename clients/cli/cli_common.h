// Shared by photonctl's commands: options, JSON output, error reporting.
#pragma once

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace photonctl {

struct Options {
  std::string address;
  std::string ca_file;           // PEM roots: connect with TLS
  std::string client_cert_file;  // PEM, mutual TLS
  std::string client_key_file;
  bool json = false;
  double connect_timeout_s = 5.0;
  double rpc_timeout_s = 30.0;
};

// The bearer token sent with every call (--token or PHOTONICD_TOKEN).
inline std::string& BearerToken() {
  static std::string token;
  return token;
}

// The write lease id sent with every call (--lease or PHOTONICD_LEASE).
inline std::string& LeaseId() {
  static std::string lease;
  return lease;
}

inline void AddCredentials(grpc::ClientContext& context) {
  if (!BearerToken().empty()) context.AddMetadata("authorization", "Bearer " + BearerToken());
  if (!LeaseId().empty()) context.AddMetadata("x-photonicd-lease", LeaseId());
}

inline void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

inline const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? kNames[index] : "UNKNOWN";
}

inline int Fail(const grpc::Status& status) {
  std::cerr << "photonctl: " << CodeName(status.error_code()) << ": " << status.error_message()
            << "\n";
  return 1;
}

}  // namespace photonctl
