#include "daemon/metrics/daemon_metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <deque>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "photonic/v1/training.pb.h"

namespace phc::daemon {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Buckets from 10 us to 100 s, three per decade.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries bounds = [] {
    prometheus::Histogram::BucketBoundaries b;
    for (double decade = 1e-5; decade < 100.0; decade *= 10.0) {
      for (double step : {1.0, 2.5, 5.0}) b.push_back(decade * step);
    }
    b.push_back(100.0);
    return b;
  }();
  return bounds;
}

// Families built at scrape time. A deque: a family's reference stays valid
// while more are added.
class FamilyList {
 public:
  MetricFamily& Add(std::string name, std::string help, MetricType type) {
    families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  void Gauge(std::string name, std::string help, double value, Labels labels = {}) {
    Value(Add(std::move(name), std::move(help), MetricType::Gauge), value, std::move(labels));
  }
  void Counter(std::string name, std::string help, double value, Labels labels = {}) {
    Value(Add(std::move(name), std::move(help), MetricType::Counter), value, std::move(labels));
  }
  static void Value(MetricFamily& family, double value, Labels labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (family.type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
  std::vector<MetricFamily> TakeFamilies() {
    return {std::make_move_iterator(families_.begin()), std::make_move_iterator(families_.end())};
  }

 private:
  std::deque<MetricFamily> families_;
};

void AddHeaters(const ChipSnapshot& snapshot, double ceiling_mw, FamilyList& out) {
  MetricFamily& power =
      out.Add("photonicd_heater_power_watts",
              "Electrical power of each heater channel (nominal resistance)", MetricType::Gauge);
  for (std::size_t ch = 0; ch < snapshot.phases.heater_power_mw.size(); ++ch) {
    FamilyList::Value(power, snapshot.phases.heater_power_mw[ch] * 1e-3,
                      {{"channel", absl::StrCat(ch)}});
  }
  out.Gauge("photonicd_heater_power_total_watts", "Total heater power",
            snapshot.phases.total_heater_power_mw * 1e-3);
  out.Gauge("photonicd_heater_power_budget_watts",
            "Present chip-wide heater power budget (PowerGuard)",
            snapshot.limits.max_total_power_mw * 1e-3);
  out.Gauge("photonicd_heater_power_ceiling_watts",
            "The chip description's heater power budget: the most SetPowerBudget may set",
            ceiling_mw * 1e-3);
  out.Gauge("photonicd_heater_voltage_limit_volts", "Per-channel heater voltage limit",
            snapshot.limits.max_voltage_v);
  out.Gauge("photonicd_heater_current_limit_amperes", "Per-channel heater current limit",
            snapshot.limits.max_current_ma * 1e-3);
  out.Counter("photonicd_heater_energy_joules_total",
              "Heater energy since the daemon started, on the instruments' clock",
              snapshot.phases.heater_energy_mj * 1e-3);
  if (!snapshot.photocurrent_ua.empty()) {
    MetricFamily& current =
        out.Add("photonicd_detector_photocurrent_amperes",
                "Photocurrent of each detector channel at the last read (scrapes never read)",
                MetricType::Gauge);
    for (std::size_t k = 0; k < snapshot.photocurrent_ua.size(); ++k) {
      FamilyList::Value(current, snapshot.photocurrent_ua[k] * 1e-6, {{"output", absl::StrCat(k)}});
    }
  }
}

void AddCalibration(const ChipSnapshot& snapshot, FamilyList& out) {
  out.Gauge("photonicd_calibration_loaded", "1 while a phase calibration is installed",
            snapshot.calibration ? 1.0 : 0.0);
  if (!snapshot.calibration) return;
  const CalibrationSummary& calibration = *snapshot.calibration;
  absl::Time created;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, calibration.created_at, &created, &error)) {
    out.Gauge("photonicd_calibration_age_seconds", "Time since the installed calibration was made",
              absl::ToDoubleSeconds(absl::Now() - created));
  }
  MetricFamily& rms =
      out.Add("photonicd_calibration_fit_rms",
              "RMS residual of the calibration fits (normalised power)", MetricType::Gauge);
  FamilyList::Value(rms, calibration.efficiency_fit_rms, {{"fit", "efficiency"}});
  FamilyList::Value(rms, calibration.bias_fit_rms, {{"fit", "bias"}});
  out.Gauge("photonicd_calibration_fitted_phases",
            "Phase shifters whose bias and efficiency were both fitted", calibration.fitted_phases);
}

void AddTemperature(const ChipSnapshot& snapshot, FamilyList& out) {
  if (!snapshot.temperature) return;
  const TemperatureReading& tec = *snapshot.temperature;
  out.Gauge("photonicd_chip_temperature_celsius", "Chip temperature at the TEC's sensor",
            tec.temperature_c);
  out.Gauge("photonicd_tec_setpoint_celsius", "The TEC's setpoint", tec.setpoint_c);
  out.Gauge("photonicd_chip_temperature_drifting",
            "1 while the chip is more than 3 x the description's stability_k off the setpoint",
            tec.drifting ? 1.0 : 0.0);
}

void AddSessions(const ChipSnapshot& snapshot, FamilyList& out) {
  if (snapshot.sessions.empty()) return;
  MetricFamily& info = out.Add("photonicd_session_info", "Training sessions: algorithm and state",
                               MetricType::Gauge);
  MetricFamily& step = out.Add("photonicd_session_step", "Steps done", MetricType::Gauge);
  MetricFamily& loss =
      out.Add("photonicd_session_loss", "Minibatch loss at the last step", MetricType::Gauge);
  MetricFamily& accuracy = out.Add("photonicd_session_test_accuracy",
                                   "Test accuracy at the last evaluation", MetricType::Gauge);
  MetricFamily& evaluations = out.Add("photonicd_session_loss_evaluations_total",
                                      "Loss evaluations so far", MetricType::Counter);
  MetricFamily& queries = out.Add("photonicd_session_chip_queries_total",
                                  "Chip queries (configurations) so far", MetricType::Counter);
  MetricFamily& power = out.Add("photonicd_session_mean_heater_power_watts",
                                "Mean heater power over the steps so far", MetricType::Gauge);
  for (const photonic::v1::SessionStatus& session : snapshot.sessions) {
    const Labels id = {{"session", session.id()}};
    FamilyList::Value(info, 1.0,
                      {{"algorithm", session.algorithm()},
                       {"session", session.id()},
                       {"state", photonic::v1::SessionState_Name(session.state())}});
    FamilyList::Value(step, static_cast<double>(session.step()), id);
    FamilyList::Value(loss, session.loss(), id);
    if (session.test_accuracy() >= 0.0) FamilyList::Value(accuracy, session.test_accuracy(), id);
    FamilyList::Value(evaluations, static_cast<double>(session.loss_evaluations()), id);
    FamilyList::Value(queries, static_cast<double>(session.chip_queries()), id);
    FamilyList::Value(power, session.mean_heater_power_mw() * 1e-3, id);
  }
}

void AddController(const ChipController& controller, FamilyList& out) {
  out.Counter("photonicd_query_configurations_total",
              "Configurations run by Query (from clients and from training)",
              static_cast<double>(controller.query_count()));
  MetricFamily& refusals =
      out.Add("photonicd_power_guard_refusals_total",
              "Heater writes refused by PowerGuard, by reason", MetricType::Counter);
  const GuardRefusalCounts counts = controller.guard_refusals();
  for (int i = 0; i < kGuardRefusalKinds; ++i) {
    FamilyList::Value(refusals, static_cast<double>(counts[i]),
                      {{"reason", std::string(GuardRefusalName(static_cast<GuardRefusal>(i)))}});
  }
  const std::shared_ptr<drivers::LinkHealth>& links = controller.links();
  out.Gauge("photonicd_instrument_links_up", "1 while every instrument link is up",
            links == nullptr || links->AllUp() ? 1.0 : 0.0);
  if (links == nullptr) return;
  MetricFamily& up = out.Add("photonicd_instrument_link_up", "1 while the instrument link is up",
                             MetricType::Gauge);
  for (const auto& [link, is_up] : links->LinkStates()) {
    FamilyList::Value(up, is_up ? 1.0 : 0.0, {{"link", link}});
  }
  out.Counter("photonicd_instrument_link_restorations_total", "Times a lost link came back",
              static_cast<double>(links->restorations()));
}

}  // namespace

DaemonMetrics::DaemonMetrics(std::string chip, std::string backend, std::string instance)
    : chip_(std::move(chip)),
      backend_(std::move(backend)),
      instance_(std::move(instance)),
      registry_(std::make_shared<prometheus::Registry>()),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("photonicd_rpc_requests_total")
                        .Help("Finished gRPC calls by method and status code")
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("photonicd_rpc_duration_seconds")
                        .Help("gRPC call duration (a stream: its whole life)")
                        .Register(*registry_)),
      http_requests_(prometheus::BuildCounter()
                         .Name("photonicd_http_requests_total")
                         .Help("Answered HTTP requests by status code")
                         .Register(*registry_)),
      strand_queue_depth_(prometheus::BuildGauge()
                              .Name("photonicd_hardware_strand_queue_depth")
                              .Help("Tasks posted to the hardware thread and not yet finished")
                              .Register(*registry_)
                              .Add({})),
      strand_wait_(prometheus::BuildHistogram()
                       .Name("photonicd_hardware_strand_wait_seconds")
                       .Help("Time a hardware-thread task waited before it started")
                       .Register(*registry_)
                       .Add({}, LatencyBuckets())),
      strand_run_(prometheus::BuildHistogram()
                      .Name("photonicd_hardware_strand_run_seconds")
                      .Help("Time a hardware-thread task ran")
                      .Register(*registry_)
                      .Add({}, LatencyBuckets())) {}

void DaemonMetrics::RpcFinished(const std::string& method, grpc::StatusCode code, double seconds) {
  // gRPC's codes are absl's, number for number.
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  rpc_requests_.Add({{"method", method}, {"code", name}}).Increment();
  rpc_duration_.Add({{"method", method}, {"code", name}}, LatencyBuckets()).Observe(seconds);
}

void DaemonMetrics::RecordHttp(int status_code) {
  http_requests_.Add({{"code", absl::StrCat(status_code)}}).Increment();
}

void DaemonMetrics::Queued() { strand_queue_depth_.Increment(); }

void DaemonMetrics::Done(std::chrono::nanoseconds wait, std::chrono::nanoseconds run) {
  strand_queue_depth_.Decrement();
  strand_wait_.Observe(std::chrono::duration<double>(wait).count());
  strand_run_.Observe(std::chrono::duration<double>(run).count());
}

std::string DaemonMetrics::Render(const ChipSnapshot* snapshot,
                                  const ChipController& controller) const {
  FamilyList out;
  out.Gauge("photonicd_info", "The chip photonicd serves", 1.0,
            {{"backend", backend_}, {"chip", chip_}, {"chip_instance", instance_}});
  if (snapshot != nullptr) {
    out.Gauge(
        "photonicd_metrics_snapshot_age_seconds",
        "Age of the chip snapshot: grows while the hardware thread is busy",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - snapshot->taken).count());
    AddHeaters(*snapshot, controller.chip().max_total_heater_power_mw(), out);
    AddCalibration(*snapshot, out);
    AddTemperature(*snapshot, out);
    AddSessions(*snapshot, out);
  }
  AddController(controller, out);
  std::vector<MetricFamily> families = out.TakeFamilies();
  for (MetricFamily& family : registry_->Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace phc::daemon
