// The daemon's HTTP handler: GET /metrics gives the Prometheus exposition
// text, GET / a short index; other paths are 404, other methods 405.
#pragma once

#include "daemon/access_control.h"
#include "daemon/chip_controller.h"
#include "daemon/http/http_server.h"
#include "daemon/metrics/daemon_metrics.h"
#include "daemon/metrics/snapshot_cache.h"

namespace phc::daemon {

// The references must outlive the server that calls the handler.
HttpHandler MakeMetricsHandler(DaemonMetrics& metrics, SnapshotCache& snapshots,
                               const ChipController& controller, const AccessControl& access);

}  // namespace phc::daemon
