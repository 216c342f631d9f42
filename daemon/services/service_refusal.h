// Reactors that end a call at once: with an error, for handlers that refuse
// a call before doing anything (access control, malformed streams), or with
// OK for unary calls answered without the hardware thread.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

namespace phc::daemon {

inline grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                        const grpc::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

template <typename Response>
class WriteRefusal final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit WriteRefusal(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class BidiRefusal final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit BidiRefusal(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace phc::daemon
