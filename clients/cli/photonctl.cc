// photonctl: command-line client for photonicd.
//
//   photonctl [--address ADDR] [--json] info
//   photonctl set-phases [--indices 0,3] -- 1.57 3.14
//   photonctl get-phases
//   photonctl set-inputs 1 0 0 0 0 0 0 0
//   photonctl read [--averages N]
//   photonctl train start --widths 8,8 [--algorithm sparse_zo] [--steps N]
//   photonctl train watch|pause|resume|cancel|get ID;  photonctl train list
//   photonctl model train --id ID --spec FILE.textproto [--epochs N]
//   photonctl model deploy|evaluate|get|delete ID;  photonctl model list
//   photonctl model program ID [--sweeps N] [--refinements N] [--averages N]
//
// Exit status: 0 success, 1 the daemon refused or could not be reached,
// 2 bad command line.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "clients/cli/cli_common.h"
#include "clients/cli/model_commands.h"
#include "clients/cli/train_commands.h"
#include "google/protobuf/util/json_util.h"
#include "photonic/v1/calibration.grpc.pb.h"
#include "photonic/v1/chip.grpc.pb.h"

namespace {

namespace pb = photonic::v1;
using photonctl::AddCredentials;
using photonctl::BearerToken;
using photonctl::Fail;
using photonctl::LeaseId;
using photonctl::Options;
using photonctl::PrintJson;

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

std::string ReadFileOrEmpty(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class Client {
 public:
  explicit Client(const Options& options) : options_(options) {}

  // Connects, waiting up to connect_timeout_s for the daemon.
  bool Connect() {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!options_.ca_file.empty()) {
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = ReadFileOrEmpty(options_.ca_file);
      tls.pem_cert_chain = ReadFileOrEmpty(options_.client_cert_file);
      tls.pem_private_key = ReadFileOrEmpty(options_.client_key_file);
      credentials = grpc::SslCredentials(tls);
    }
    channel_ = grpc::CreateChannel(options_.address, credentials);
    const auto deadline =
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<long>(options_.connect_timeout_s * 1000));
    if (!channel_->WaitForConnected(deadline)) {
      std::cerr << "photonctl: cannot reach photonicd at " << options_.address << " within "
                << options_.connect_timeout_s << " s\n";
      return false;
    }
    stub_ = pb::ChipService::NewStub(channel_);
    calibration_ = pb::CalibrationService::NewStub(channel_);
    return true;
  }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<long>(options_.rpc_timeout_s * 1000)));
  }

  int Info() {
    grpc::ClientContext context;
    AddCredentials(context);
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
    AddCredentials(context);
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
    AddCredentials(context);
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
    AddCredentials(context);
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
    AddCredentials(context);
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

  // Streams progress as a bar on stderr; prints the result.
  int Calibrate(const pb::CalibrateRequest& request) {
    grpc::ClientContext context;  // no deadline: calibration takes as long as it takes
    AddCredentials(context);
    auto stream = calibration_->Calibrate(&context, request);
    pb::CalibrationProgress progress;
    pb::PhaseCalibration result;
    const bool bar = !options_.json && isatty(STDERR_FILENO);
    while (stream->Read(&progress)) {
      if (progress.has_result()) result = progress.result();
      if (bar) {
        const int filled = static_cast<int>(progress.fraction() * 30);
        std::fprintf(stderr, "\r[%-30s] %5.1f%%  %-10s ETA %5.1f s",
                     std::string(filled, '#').c_str(), 100 * progress.fraction(),
                     progress.stage().c_str(), progress.eta_seconds());
      } else if (!options_.json) {
        std::fprintf(stderr, "%5.1f%% %s\n", 100 * progress.fraction(), progress.stage().c_str());
      }
    }
    if (bar) std::fprintf(stderr, "\n");
    if (grpc::Status s = stream->Finish(); !s.ok()) return Fail(s);
    return PrintCalibration(result);
  }

  int CancelCalibration() {
    grpc::ClientContext context;
    AddCredentials(context);
    Prepare(context);
    pb::CancelCalibrationReply reply;
    if (grpc::Status s = calibration_->CancelCalibration(&context, {}, &reply); !s.ok()) {
      return Fail(s);
    }
    if (options_.json) {
      PrintJson(reply);
      return 0;
    }
    std::printf("calibration cancelled at %.1f %%; the chip goes back to its safe state\n",
                100 * reply.fraction_done());
    return 0;
  }

  int GetCalibration() {
    grpc::ClientContext context;
    AddCredentials(context);
    Prepare(context);
    pb::PhaseCalibration calibration;
    if (grpc::Status s = calibration_->GetCalibration(&context, {}, &calibration); !s.ok()) {
      return Fail(s);
    }
    return PrintCalibration(calibration);
  }

  int ProgramUnitary(unsigned circuit, std::uint64_t seed) {
    grpc::ClientContext context;
    AddCredentials(context);
    Prepare(context);
    pb::ProgramUnitaryRequest request;
    request.set_circuit(circuit);
    request.set_seed(seed);
    pb::ProgramUnitaryResponse response;
    if (grpc::Status s = calibration_->ProgramUnitary(&context, request, &response); !s.ok()) {
      return Fail(s);
    }
    if (options_.json) {
      PrintJson(response);
      return 0;
    }
    std::printf("programmed a Haar-random unitary (seed %llu) on circuit %u\n",
                static_cast<unsigned long long>(seed), circuit);
    std::printf("fidelity (mean over inputs of (sum_k sqrt(p_k q_k))^2): %.5f\n",
                response.fidelity());
    return 0;
  }

  // acquire (holder set), release (lease_id set) or show.
  int Lease(const std::string& action, const std::string& holder, double ttl_s) {
    grpc::ClientContext context;
    AddCredentials(context);
    Prepare(context);
    pb::Lease response;
    grpc::Status s;
    if (action == "acquire") {
      pb::AcquireLeaseRequest request;
      request.set_holder(holder);
      request.set_ttl_seconds(ttl_s);
      request.set_lease_id(LeaseId());  // set: renew
      s = stub_->AcquireLease(&context, request, &response);
    } else if (action == "release") {
      pb::ReleaseLeaseRequest request;
      request.set_lease_id(LeaseId());
      s = stub_->ReleaseLease(&context, request, &response);
    } else {
      s = stub_->GetLease(&context, pb::GetLeaseRequest(), &response);
    }
    if (!s.ok()) return Fail(s);
    if (options_.json) {
      PrintJson(response);
    } else if (action == "acquire") {
      std::printf("%s\n", response.lease_id().c_str());  // for PHOTONICD_LEASE=$(...)
      std::fprintf(stderr, "leased to %s for %.0f s; send it with --lease or PHOTONICD_LEASE\n",
                   response.holder().c_str(), response.expires_in_seconds());
    } else if (response.held()) {
      std::printf("leased to %s for another %.1f s\n", response.holder().c_str(),
                  response.expires_in_seconds());
    } else {
      std::printf("not leased\n");
    }
    return 0;
  }

  // The chip's temperature; with a setpoint, sets it first (operator).
  int Temperature(std::optional<double> setpoint_c) {
    grpc::ClientContext context;
    AddCredentials(context);
    Prepare(context);
    pb::Temperature temperature;
    grpc::Status status;
    if (setpoint_c) {
      pb::SetTemperatureSetpointRequest request;
      request.set_setpoint_c(*setpoint_c);
      status = stub_->SetTemperatureSetpoint(&context, request, &temperature);
    } else {
      status = stub_->GetTemperature(&context, {}, &temperature);
    }
    if (!status.ok()) return Fail(status);
    if (options_.json) {
      PrintJson(temperature);
      return 0;
    }
    std::printf("chip temperature %.3f C, TEC setpoint %.3f C (range %.1f..%.1f C)%s\n",
                temperature.temperature_c(), temperature.setpoint_c(), temperature.min_setpoint_c(),
                temperature.max_setpoint_c(),
                temperature.drifting() ? ": DRIFTING beyond 3 x the chip's stability" : "");
    return 0;
  }

  int Read(unsigned averages) {
    grpc::ClientContext context;
    AddCredentials(context);
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
  int PrintCalibration(const pb::PhaseCalibration& c) const {
    if (options_.json) {
      PrintJson(c);
      return 0;
    }
    int fitted = 0;
    for (bool f : c.fitted()) fitted += f ? 1 : 0;
    std::printf("calibration of %s, %s\n", c.chip_name().c_str(), c.created_at().c_str());
    std::printf("phase shifters fitted   %d of %d\n", fitted, c.phase_bias_rad_size());
    int efficiencies = 0;
    for (bool f : c.efficiency_fitted()) efficiencies += f ? 1 : 0;
    if (efficiencies > fitted) {
      std::printf("efficiencies only       %d more (coherent SVD cores: program models in situ)\n",
                  efficiencies - fitted);
    }
    std::printf("crosstalk (nearest)     %.4f (decay %.2f pitch, cutoff %.1f)\n",
                c.crosstalk_nearest(), c.crosstalk_decay_pitch(), c.crosstalk_cutoff_pitch());
    std::printf("fit residuals (rms)     efficiency %.5f, bias %.5f\n", c.efficiency_fit_rms(),
                c.bias_fit_rms());
    std::printf("readings                %u (%.3f s chip time, %.2f s wall time)\n",
                c.measurements(), c.chip_seconds(), c.wall_seconds());
    return 0;
  }

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
  std::unique_ptr<pb::CalibrationService::Stub> calibration_;
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
  const char* env_token = std::getenv("PHOTONICD_TOKEN");
  if (env_token) BearerToken() = env_token;
  app.add_option("--token", BearerToken(), "bearer token (env PHOTONICD_TOKEN)");
  const char* env_lease = std::getenv("PHOTONICD_LEASE");
  if (env_lease) LeaseId() = env_lease;
  app.add_option("--lease", LeaseId(), "write lease id to send (env PHOTONICD_LEASE)");
  app.add_option("--ca", options.ca_file, "PEM CA certificates: connect with TLS")
      ->check(CLI::ExistingFile);
  app.add_option("--client-cert", options.client_cert_file, "PEM client certificate (mutual TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--client-key", options.client_key_file, "PEM client key (mutual TLS)")
      ->check(CLI::ExistingFile);
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
  auto* calibrate = app.add_subcommand("calibrate", "calibrate every MZI circuit (operator)");
  pb::CalibrateRequest calibrate_request;
  calibrate->add_option_function<unsigned>(
      "--configurations", [&](unsigned v) { calibrate_request.set_configurations(v); },
      "random heater configurations for the bias fit (default 48)");
  calibrate->add_option_function<std::uint64_t>(
      "--seed", [&](std::uint64_t v) { calibrate_request.set_seed(v); },
      "seed of the configurations");
  calibrate->add_option_function<unsigned>(
      "--averages", [&](unsigned v) { calibrate_request.set_averages(v); },
      "detector averages per reading (default 16)");
  bool cancel_calibration = false;
  calibrate->add_flag("--cancel", cancel_calibration,
                      "stop the running calibration (it goes on when its client goes away; "
                      "calibrate again to watch it)");
  auto* show_calibration = app.add_subcommand("calibration", "show the present calibration");
  auto* program_unitary = app.add_subcommand(
      "program-unitary", "program a random unitary and measure the fidelity reached");
  unsigned circuit = 0;
  std::uint64_t unitary_seed = 1;
  program_unitary->add_option("-c,--circuit", circuit, "circuit index")->capture_default_str();
  program_unitary->add_option("--seed", unitary_seed, "seed of the Haar-random unitary")
      ->capture_default_str();
  auto* temperature = app.add_subcommand(
      "temperature", "the chip's temperature (--setpoint C sets the TEC first: operator)");
  std::optional<double> setpoint_c;
  temperature->add_option("--setpoint", setpoint_c, "new TEC setpoint, deg C");
  auto* read = app.add_subcommand("read", "read every detector");
  unsigned averages = 1;
  read->add_option("-n,--averages", averages, "readings averaged per detector")
      ->capture_default_str();

  auto* lease = app.add_subcommand("lease", "the chip's exclusive write lease");
  lease->require_subcommand(1);
  auto* lease_acquire = lease->add_subcommand(
      "acquire", "take the lease (or renew the one given with --lease); prints its id");
  std::string lease_holder;
  double lease_ttl_s = 300.0;
  lease_acquire->add_option("--holder", lease_holder, "who holds it, for people")->required();
  lease_acquire->add_option("--ttl", lease_ttl_s, "seconds until it lapses")
      ->capture_default_str()
      ->check(CLI::Range(1e-3, 3600.0));
  auto* lease_release = lease->add_subcommand("release", "give back the lease given with --lease");
  lease->add_subcommand("show", "who holds the lease");

  photonctl::TrainCommands train;
  photonctl::AddTrainCommands(app, train);
  photonctl::ModelCommands model;
  photonctl::AddModelCommands(app, model);

  CLI11_PARSE(app, argc, argv);

  Client client(options);
  if (!client.Connect()) return 1;
  if (*train.train) return photonctl::RunTrainCommand(train, client.channel(), options);
  if (*model.model) return photonctl::RunModelCommand(model, client.channel(), options);
  if (*info) return client.Info();
  if (*set_phases) return client.SetPhases(phases, indices);
  if (*get_phases) return client.GetPhases();
  if (*set_inputs) return client.SetInputs(amplitudes);
  if (*read) return client.Read(averages);
  if (*temperature) return client.Temperature(setpoint_c);
  if (*power_budget) return client.SetPowerBudget(budget_mw);
  if (*calibrate) {
    return cancel_calibration ? client.CancelCalibration() : client.Calibrate(calibrate_request);
  }
  if (*show_calibration) return client.GetCalibration();
  if (*program_unitary) return client.ProgramUnitary(circuit, unitary_seed);
  if (*lease) {
    return client.Lease(*lease_acquire ? "acquire" : (*lease_release ? "release" : "show"),
                        lease_holder, lease_ttl_s);
  }
  return 2;
}
