// Daemon: builds the object graph from a loaded config (chip backend,
// drivers, ChipController, services) and runs the gRPC server.
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/config.h"
#include "daemon/http/http_server.h"
#include "daemon/metrics/daemon_metrics.h"
#include "daemon/metrics/snapshot_cache.h"
#include "daemon/models/model_store.h"
#include "daemon/models/model_workers.h"
#include "daemon/services/calibration_service.h"
#include "daemon/services/call_guard.h"
#include "daemon/services/chip_service.h"
#include "daemon/services/model_service.h"
#include "daemon/services/training_service.h"
#include "daemon/training/session_manager.h"

namespace phc::daemon {

class Daemon {
 public:
  // Starts serving on config.daemon.listen_address. A TCP port of 0 picks a
  // free port: address() tells which.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const LoadedConfig& config);

  // Stops the server (in-flight calls and open connections get `grace_ms`
  // to finish; a running in silico training or evaluation is cancelled
  // then), joins the model workers, stops a running training session at a
  // step boundary and checkpoints it (it resumes at the next start), then
  // drives every heater and modulator to 0 V. Idempotent.
  absl::Status Shutdown(int grace_ms = 1000);
  ~Daemon();

  // "host:port" or "unix:/path", as clients should dial it.
  const std::string& address() const { return address_; }
  // The metrics port, "host:port"; empty when config.daemon.http is unset.
  std::string http_address() const { return http_ ? http_->address() : std::string(); }
  ChipController& controller() { return *controller_; }

 private:
  Daemon() = default;
  // Builds the metrics, their snapshot cache and the HTTP port (config.daemon.http).
  void PrepareMetrics(const LoadedConfig& config, const std::string& instance);
  absl::Status StartHttp(const LoadedConfig& config);
  // Undoes a start that failed after the services were built.
  void AbandonStart();

  // Before the services, which refer to them.
  AccessControl access_;
  LeaseManager leases_;
  CallGuard guard_{access_, leases_};
  // Before the controller: it reports its tasks to the metrics until it stops.
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<ChipController> controller_;
  std::unique_ptr<ChipServiceImpl> chip_service_;
  std::unique_ptr<CalibrationState> calibration_state_;
  std::unique_ptr<CalibrationServiceImpl> calibration_service_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<TrainingServiceImpl> training_service_;
  std::unique_ptr<ModelStore> models_;
  std::unique_ptr<ModelWorkers> model_workers_;
  std::unique_ptr<ModelServiceImpl> model_service_;
  std::unique_ptr<SnapshotCache> snapshots_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace phc::daemon
