// photonctl: command-line client for photonicd.
//
//   photonctl [--address ADDR] [--json] info
//   photonctl set-phases [--indices 0,3] -- 1.57 3.14
//   photonctl get-phases
//   photonctl set-inputs 1 0 0 0 0 0 0 0
//   photonctl read [--averages N]
//
// Exit status: 0 success, 1 the daemon refused or could not be reached,
// 2 bad command line.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "photonic/v1/chip.grpc.pb.h"

namespace {

namespace pb = photonic::v1;

struct Options {
  std::string address;
  bool json = false;
  double connect_timeout_s = 5.0;
  double rpc_timeout_s = 30.0;
};

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::cout << json;
}

const char* CodeName(grpc::StatusCode code) {
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

int Fail(const grpc::Status& status) {
  std::cerr << "photonctl: " << CodeName(status.error_code()) << ": " << status.error_message()
            << "\n";
  return 1;
}

template <typename Repeated>
std::string JoinFormatted(const Repeated& values, const char* format) {
  std::string out;
  char buffer[64];
  for (const auto& v : values) {
    std::snprintf(buffer, sizeof buffer, format, v);
    if (!out.empty()) out += " ";
    out += buffer;
  }
  return out;
}

class Client {
 public:
  explicit Client(const Options& options) : options_(options) {}

  // Connects, waiting up to connect_timeout_s for the daemon.
  bool Connect() {
    channel_ = grpc::CreateChannel(options_.address, grpc::InsecureChannelCredentials());
    const auto deadline =
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<long>(options_.connect_timeout_s * 1000));
    if (!channel_->WaitForConnected(deadline)) {
      std::cerr << "photonctl: cannot reach photonicd at " << options_.address << " within "
                << options_.connect_timeout_s << " s\n";
      return false;
    }
    stub_ = pb::ChipService::NewStub(channel_);
    return true;
  }

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<long>(options_.rpc_timeout_s * 1000)));
  }

  int Info() {
    grpc::ClientContext context;
    Prepare(context);
    pb::ChipInfo info;
    if (grpc::Status s = stub_->GetChipInfo(&context, {}, &info); !s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(info);
      return 0;
    }
    std::printf("chip          %s\n", info.name().c_str());
    std::printf("backend       %s\n", info.backend().c_str());
    std::printf("circuits      %d\n", info.circuits_size());
    for (const pb::CircuitInfo& c : info.circuits()) {
      std::printf("  %-16s %-15s size %-4u phases %u-%u  inputs %u-%u  outputs %u-%u\n",
                  c.name().c_str(), c.kind().c_str(), c.size(), c.first_phase(),
                  c.first_phase() + c.phase_count() - 1, c.first_input(),
                  c.first_input() + c.input_count() - 1, c.first_output(),
                  c.first_output() + c.output_count() - 1);
    }
    std::printf("phases        %u\n", info.phase_count());
    std::printf("inputs        %u\n", info.input_count());
    std::printf("outputs       %u\n", info.output_count());
    std::printf("heater limit  %.3f V, %.3f mA per channel; %.1f mW in total\n",
                info.limits().max_heater_voltage_v(), info.limits().max_heater_current_ma(),
                info.limits().max_total_heater_power_mw());
    std::printf("layout        %s\n", info.phase_layout().c_str());
    return 0;
  }

  int SetPhases(const std::vector<double>& phases, const std::vector<unsigned>& indices) {
    grpc::ClientContext context;
    Prepare(context);
    pb::SetPhasesRequest request;
    request.mutable_phases_rad()->Assign(phases.begin(), phases.end());
    request.mutable_indices()->Assign(indices.begin(), indices.end());
    pb::SetPhasesResponse response;
    if (grpc::Status s = stub_->SetPhases(&context, request, &response); !s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(response);
      return 0;
    }
    // Show what this request wrote; get-phases lists every phase.
    std::printf("%-6s %12s %12s\n", "phase", "applied_rad", "heater_mW");
    for (std::size_t i = 0; i < phases.size(); ++i) {
      const int index = indices.empty() ? static_cast<int>(i) : static_cast<int>(indices[i]);
      std::printf("%-6d %12.6f %12.4f\n", index, response.applied_phases_rad(index),
                  response.heater_power_mw(index));
    }
    std::printf("total heater power: %.4f mW\n", response.total_heater_power_mw());
    return 0;
  }

  int GetPhases() {
    grpc::ClientContext context;
    Prepare(context);
    pb::GetPhasesResponse response;
    if (grpc::Status s = stub_->GetPhases(&context, {}, &response); !s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(response);
      return 0;
    }
    PrintPhaseTable(response.phases_rad(), response.heater_power_mw(),
                    response.total_heater_power_mw());
    return 0;
  }

  int SetInputs(const std::vector<double>& amplitudes) {
    grpc::ClientContext context;
    Prepare(context);
    pb::SetInputsRequest request;
    request.mutable_amplitudes()->Assign(amplitudes.begin(), amplitudes.end());
    pb::SetInputsResponse response;
    if (grpc::Status s = stub_->SetInputs(&context, request, &response); !s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(response);
      return 0;
    }
    std::printf("input amplitudes: %s\n", JoinFormatted(response.amplitudes(), "%.4f").c_str());
    return 0;
  }

  int SetPowerBudget(double budget_mw) {
    grpc::ClientContext context;
    Prepare(context);
    pb::SetPowerBudgetRequest request;
    request.set_max_total_heater_power_mw(budget_mw);
    pb::Limits limits;
    if (grpc::Status s = stub_->SetPowerBudget(&context, request, &limits); !s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(limits);
      return 0;
    }
    std::printf("heater power budget: %.3f mW\n", limits.max_total_heater_power_mw());
    return 0;
  }

  int Read(unsigned averages) {
    grpc::ClientContext context;
    Prepare(context);
    pb::ReadDetectorsRequest request;
    request.set_averages(averages);
    pb::ReadDetectorsResponse response;
    if (grpc::Status s = stub_->ReadDetectors(&context, request, &response); !s.ok()) {
      return Fail(s);
    }
    if (options_.json) {
      PrintJson(response);
      return 0;
    }
    std::printf("%-8s %16s %18s   (averages: %u)\n", "output", "photocurrent_uA",
                "optical_power_mW", response.averages());
    for (int k = 0; k < response.photocurrent_ua_size(); ++k) {
      std::printf("%-8d %16.6f %18.6f\n", k, response.photocurrent_ua(k),
                  response.optical_power_mw(k));
    }
    return 0;
  }

 private:
  template <typename Repeated>
  static void PrintPhaseTable(const Repeated& phases, const Repeated& powers, double total_mw) {
    std::printf("%-6s %12s %12s\n", "phase", "value_rad", "heater_mW");
    for (int i = 0; i < phases.size(); ++i) {
      std::printf("%-6d %12.6f %12.4f\n", i, phases.Get(i), powers.Get(i));
    }
    std::printf("total heater power: %.4f mW\n", total_mw);
  }

  Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ChipService::Stub> stub_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"photonctl: control a photonic chip served by photonicd"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  Options options;
  const char* env_address = std::getenv("PHOTONICD_ADDRESS");
  options.address = env_address ? env_address : "127.0.0.1:50051";
  app.add_option("-a,--address", options.address,
                 "daemon address: host:port or unix:/path (env PHOTONICD_ADDRESS)")
      ->capture_default_str();
  app.add_flag("--json", options.json, "print replies as JSON");
  app.add_option("--connect-timeout", options.connect_timeout_s, "seconds to wait for the daemon")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--timeout", options.rpc_timeout_s, "seconds per request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  auto* info = app.add_subcommand("info", "chip, mesh, limits and backend");
  auto* set_phases = app.add_subcommand("set-phases", "set all phases, or a subset with --indices");
  std::vector<double> phases;
  std::vector<unsigned> indices;
  set_phases->add_option("phases", phases, "phases in radians")->required();
  set_phases->add_option("-i,--indices", indices, "phase indices, one per phase")->delimiter(',');
  auto* get_phases = app.add_subcommand("get-phases", "every phase and its heater power");
  auto* set_inputs = app.add_subcommand("set-inputs", "input field amplitudes in [0, 1]");
  std::vector<double> amplitudes;
  set_inputs->add_option("amplitudes", amplitudes, "one amplitude per input")->required();
  auto* power_budget =
      app.add_subcommand("power-budget", "set the chip-wide heater power budget (operator)");
  double budget_mw = 0.0;
  power_budget->add_option("milliwatts", budget_mw, "new budget in mW")->required();
  auto* read = app.add_subcommand("read", "read every detector");
  unsigned averages = 1;
  read->add_option("-n,--averages", averages, "readings averaged per detector")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  Client client(options);
  if (!client.Connect()) return 1;
  if (*info) return client.Info();
  if (*set_phases) return client.SetPhases(phases, indices);
  if (*get_phases) return client.GetPhases();
  if (*set_inputs) return client.SetInputs(amplitudes);
  if (*read) return client.Read(averages);
  if (*power_budget) return client.SetPowerBudget(budget_mw);
  return 2;
}
