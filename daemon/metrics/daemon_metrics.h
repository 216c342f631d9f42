// DaemonMetrics: the daemon's Prometheus metrics. Live counters and
// histograms (RPCs, the hardware thread's tasks, HTTP requests) are kept in
// a prometheus-cpp registry as events happen; the chip's state comes from a
// ChipSnapshot at scrape time. Render() writes the text exposition format.
// Thread-safe.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/chip/chip_controller.h"
#include "daemon/metrics/chip_snapshot.h"
#include "daemon/services/rpc_observer.h"

namespace phc::daemon {

class DaemonMetrics final : public HardwareTaskObserver, public RpcObserver {
 public:
  // instance: the chip instance (the simulated chip's seed included).
  DaemonMetrics(std::string chip, std::string backend, std::string instance);

  // RpcObserver: a finished RPC, its full method name, status code and
  // duration (a stream's whole life).
  void RpcFinished(const std::string& method, grpc::StatusCode code, double seconds) override;
  // An answered HTTP request, by status code.
  void RecordHttp(int status_code);

  // HardwareTaskObserver.
  void Queued() override;
  void Done(std::chrono::nanoseconds wait, std::chrono::nanoseconds run) override;

  // The exposition text: the snapshot (null: none taken yet), the
  // controller's thread-safe counters and links, and the live metrics.
  std::string Render(const ChipSnapshot* snapshot, const ChipController& controller) const;

 private:
  const std::string chip_;
  const std::string backend_;
  const std::string instance_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Gauge& strand_queue_depth_;
  prometheus::Histogram& strand_wait_;
  prometheus::Histogram& strand_run_;
};

}  // namespace phc::daemon
