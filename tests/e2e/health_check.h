// grpc.health.v1.Health/Check over a generic stub (Debian ships no stubs
// for the health proto): the serving status of the whole server.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace phc::testing {

enum class Serving { kUnknown = 0, kServing = 1, kNotServing = 2, kCallFailed = -1 };

inline Serving CheckHealth(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::GenericStub generic(channel);
  grpc::Slice empty_slice("");  // an empty HealthCheckRequest is zero bytes
  grpc::ByteBuffer empty(&empty_slice, 1);
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status status;
  grpc::ByteBuffer reply;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &empty, &reply,
                    [&](grpc::Status s) {
                      std::lock_guard lock(mu);
                      status = s;
                      done = true;
                      done_cv.notify_one();
                    });
  {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return done; });
  }
  if (!status.ok()) return Serving::kCallFailed;
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return Serving::kCallFailed;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse { status = 1 (varint) }: "\x08<status>"; empty: UNKNOWN.
  if (bytes.empty()) return Serving::kUnknown;
  if (bytes.size() != 2 || bytes[0] != '\x08') return Serving::kCallFailed;
  return static_cast<Serving>(bytes[1]);
}

}  // namespace phc::testing
