// What a soak run counts: requests by kind and status, read latencies,
// faults by kind, and invariant violations. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace phc::soak {

class Tally {
 public:
  void Request(const std::string& kind, grpc::StatusCode code, double latency_ms) {
    std::lock_guard lock(mu_);
    ++requests_[kind][code];
    double& worst = max_latency_ms_[kind];
    worst = std::max(worst, latency_ms);
  }
  void ReadLatency(const std::string& daemon, double latency_ms) {
    std::lock_guard lock(mu_);
    read_latency_ms_[daemon].push_back(latency_ms);
  }
  void Fault(const std::string& kind) {
    std::lock_guard lock(mu_);
    ++faults_[kind];
  }
  // Also printed to stderr at once: a long run shows what went wrong as it
  // happens.
  void Violation(const std::string& kind, const std::string& detail) {
    std::fprintf(stderr, "soak: VIOLATION %s: %s\n", kind.c_str(), detail.c_str());
    std::lock_guard lock(mu_);
    ++violations_[kind];
    if (violation_details_.size() < 200) violation_details_.push_back(kind + ": " + detail);
  }
  // Free-form figures (lost steps, time to safe state, ...): max and sum.
  void Figure(const std::string& name, double value) {
    std::lock_guard lock(mu_);
    Summary& s = figures_[name];
    s.max = s.count == 0 ? value : std::max(s.max, value);
    s.sum += value;
    ++s.count;
  }

  struct Summary {
    double max = 0;
    double sum = 0;
    long count = 0;
  };
  struct Snapshot {
    std::map<std::string, std::map<grpc::StatusCode, long>> requests;
    std::map<std::string, double> max_latency_ms;
    std::map<std::string, std::vector<double>> read_latency_ms;
    std::map<std::string, long> faults;
    std::map<std::string, long> violations;
    std::vector<std::string> violation_details;
    std::map<std::string, Summary> figures;
  };
  Snapshot Take() const {
    std::lock_guard lock(mu_);
    return {requests_,   max_latency_ms_,    read_latency_ms_, faults_,
            violations_, violation_details_, figures_};
  }
  long violation_count() const {
    std::lock_guard lock(mu_);
    long n = 0;
    for (const auto& [kind, count] : violations_) n += count;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<grpc::StatusCode, long>> requests_;
  std::map<std::string, double> max_latency_ms_;
  std::map<std::string, std::vector<double>> read_latency_ms_;
  std::map<std::string, long> faults_;
  std::map<std::string, long> violations_;
  std::vector<std::string> violation_details_;
  std::map<std::string, Summary> figures_;
};

}  // namespace phc::soak
