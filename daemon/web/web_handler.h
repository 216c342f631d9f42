// Everything the daemon's HTTP port serves:
//   GET  /                              the dashboard page (no token needed)
//   GET  /metrics                       Prometheus text format
//   GET  /api/chip                      the chip as drawn (DashboardChip JSON)
//   GET  /api/state                     its state (DashboardState JSON)
//   GET  /api/sessions/ID/events        a session's statuses, Server-Sent Events
//   POST /api/sessions/ID/pause|resume|cancel
//   POST /api/power-budget              {"maxTotalHeaterPowerMw": 1200}
// With tokens configured, GETs need a reader's token and POSTs an
// operator's ("Authorization: Bearer TOKEN"), as the gRPC methods do; a
// write also needs the client lease when one is held ("X-Photonicd-Lease").
// Errors are JSON {"code": "PERMISSION_DENIED", "message": "..."} with the
// matching HTTP status. Unknown paths get 404, other methods 405.
#pragma once

#include "daemon/access_control.h"
#include "daemon/chip/chip_controller.h"
#include "daemon/http/http_server.h"
#include "daemon/metrics/daemon_metrics.h"
#include "daemon/metrics/snapshot_cache.h"
#include "daemon/services/call_guard.h"
#include "daemon/training/session_manager.h"

namespace phc::daemon {

// Everything must outlive the server that calls the handler.
struct WebContext {
  DaemonMetrics& metrics;
  SnapshotCache& snapshots;
  ChipController& controller;
  const AccessControl& access;
  const CallGuard& guard;
  SessionManager& sessions;
};

HttpHandler MakeWebHandler(WebContext context);

}  // namespace phc::daemon
