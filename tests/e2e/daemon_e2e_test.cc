// End to end: the real photonicd binary on the simulated chip, driven by the
// real photonctl binary and by a gRPC client.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include "absl/strings/str_format.h"
#include "daemon_fixture.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "health_check.h"
#include "photonic/v1/calibration.grpc.pb.h"
#include "photonic/v1/chip.grpc.pb.h"
#include "photonsim/mzi_mesh.h"
#include "subprocess.h"

namespace phc {
namespace {

// Expected photocurrents in uA from the mesh physics for given phases and
// input amplitudes.
std::vector<double> ExpectedPhotocurrentsUa(const std::vector<double>& phases,
                                            const std::vector<double>& amplitudes) {
  photonsim::MziMesh mesh = photonsim::MziMesh::Clements(kN);
  mesh.SetPhases(phases);
  photonsim::VectorXc inputs(kN);
  for (int i = 0; i < kN; ++i) inputs(i) = std::sqrt(kLaserMw) * amplitudes[i];
  const photonsim::VectorXc outputs = mesh.TransferMatrix() * inputs;
  std::vector<double> currents(kN);
  for (int k = 0; k < kN; ++k) currents[k] = kResponsivity * std::norm(outputs(k)) * 1e3 + kDarkUa;
  return currents;
}

std::vector<double> RandomVector(int size, double low, double high, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> v(size);
  for (double& x : v) x = dist(rng);
  return v;
}

void ExpectReadingNear(const google::protobuf::RepeatedField<double>& got,
                       const std::vector<double>& expected) {
  ASSERT_EQ(got.size(), static_cast<int>(expected.size()));
  for (int k = 0; k < got.size(); ++k) {
    EXPECT_NEAR(got[k], expected[k], 1e-9 * std::max(1.0, expected[k])) << "output " << k;
  }
}

TEST_F(DaemonE2eTest, CliAndGrpcClientDriveTheSimulatedChip) {
  StartDaemon("unix:" + (dir_ / "photonicd.sock").string());

  // photonctl info --json parses as ChipInfo.
  CommandResult info = Photonctl({"info", "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  pb::ChipInfo chip_info;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(info.out, &chip_info).ok()) << info.out;
  EXPECT_EQ(chip_info.name(), "ideal8");
  ASSERT_EQ(chip_info.circuits_size(), 1);
  EXPECT_EQ(chip_info.circuits(0).kind(), "mesh/clements");
  EXPECT_EQ(chip_info.backend(), "sim");
  EXPECT_EQ(chip_info.phase_count(), 56u);

  // Program through the gRPC client, check against the mesh physics.
  const std::vector<double> phases = RandomVector(56, 0.0, 1.2 * std::numbers::pi, 21);
  const std::vector<double> amplitudes = RandomVector(kN, 0.0, 1.0, 22);
  const pb::ReadDetectorsResponse reading = ProgramAndRead(phases, amplitudes, 8);
  ExpectReadingNear(reading.photocurrent_ua(), ExpectedPhotocurrentsUa(phases, amplitudes));
  EXPECT_EQ(reading.averages(), 8u);

  // photonctl read --json agrees with the gRPC client.
  CommandResult read = Photonctl({"read", "--json"});
  ASSERT_EQ(read.exit_code, 0) << read.err;
  pb::ReadDetectorsResponse cli_reading;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(read.out, &cli_reading).ok());
  ExpectReadingNear(cli_reading.photocurrent_ua(), ExpectedPhotocurrentsUa(phases, amplitudes));

  // A subset write through the CLI changes only the named phases.
  CommandResult set = Photonctl({"set-phases", "--indices", "0,55", "--", "3.0", "-1.0"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  std::vector<double> updated = phases;
  updated[0] = 3.0;
  updated[55] = 2 * std::numbers::pi - 1.0;
  pb::GetPhasesResponse got;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), got).ok());
  ASSERT_EQ(got.phases_rad_size(), 56);
  for (int i = 0; i < 56; ++i) EXPECT_NEAR(got.phases_rad(i), updated[i], 1e-12) << i;
}

TEST_F(DaemonE2eTest, BadRequestsGetInvalidArgumentAndChangeNothing) {
  StartDaemon("unix:" + (dir_ / "photonicd.sock").string());
  pb::GetPhasesResponse before;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), before).ok());

  CommandResult wrong_length = Photonctl({"set-phases", "1", "2", "3"});
  EXPECT_EQ(wrong_length.exit_code, 1);
  EXPECT_NE(wrong_length.err.find("INVALID_ARGUMENT: phases_rad has 3 entries"), std::string::npos)
      << wrong_length.err;

  CommandResult bad_index = Photonctl({"set-phases", "--indices", "56", "--", "1.0"});
  EXPECT_EQ(bad_index.exit_code, 1);
  EXPECT_NE(bad_index.err.find("indices[0] = 56 is out of range"), std::string::npos)
      << bad_index.err;

  pb::SetPhasesRequest nan_request;
  nan_request.add_phases_rad(std::numeric_limits<double>::quiet_NaN());
  nan_request.add_indices(4);
  pb::SetPhasesResponse ignored;
  const grpc::Status nan_status = Call(&pb::ChipService::Stub::SetPhases, nan_request, ignored);
  EXPECT_EQ(nan_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  pb::GetPhasesResponse after;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), after).ok());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
}

// A chip description with a passive (trimmed) shifter: the daemon reports
// it at its designed phase and no power, the simulated chip applies that
// phase, and a request to move it is refused and changes nothing.
TEST_F(DaemonE2eTest, ATrimmedPhaseShifterHoldsItsDesignedPhaseAndRefusesToMove) {
  std::ofstream(dir_ / "trimmed8.textproto")
      << kIdealChip << "trimmed_phases { phase: 5 phase_rad: 1.25 }\n";
  WriteConfig("trimmed8.textproto");
  StartDaemon("unix:" + (dir_ / "photonicd.sock").string());
  pb::GetPhasesResponse start;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), start).ok());
  ASSERT_EQ(start.phases_rad_size(), 56);
  EXPECT_EQ(start.phases_rad(5), 1.25);
  EXPECT_EQ(start.heater_power_mw(5), 0.0);

  std::vector<double> phases = RandomVector(56, 0.0, 1.2 * std::numbers::pi, 23);
  phases[5] = 1.25;
  const std::vector<double> amplitudes = RandomVector(kN, 0.0, 1.0, 24);
  const pb::ReadDetectorsResponse reading = ProgramAndRead(phases, amplitudes, 1);
  ExpectReadingNear(reading.photocurrent_ua(), ExpectedPhotocurrentsUa(phases, amplitudes));

  pb::GetPhasesResponse before;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), before).ok());
  EXPECT_EQ(before.heater_power_mw(5), 0.0);
  CommandResult moved = Photonctl({"set-phases", "--indices", "4,5", "--", "0.5", "2.0"});
  EXPECT_EQ(moved.exit_code, 1);
  EXPECT_NE(moved.err.find("INVALID_ARGUMENT: phase 5 is trimmed"), std::string::npos) << moved.err;
  pb::GetPhasesResponse after;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), after).ok());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
}

TEST_F(DaemonE2eTest, QueryStreamAnswersEachConfigurationInOrder) {
  StartDaemon("127.0.0.1:0");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Query(&context);
  for (std::uint64_t tag = 1; tag <= 5; ++tag) {
    const std::vector<double> phases = RandomVector(56, 0.0, std::numbers::pi, 100 + tag);
    const std::vector<double> amplitudes = RandomVector(kN, 0.0, 1.0, 200 + tag);
    pb::QueryRequest request;
    request.set_tag(tag);
    request.mutable_phases_rad()->Assign(phases.begin(), phases.end());
    request.mutable_amplitudes()->Assign(amplitudes.begin(), amplitudes.end());
    ASSERT_TRUE(stream->Write(request));
    pb::QueryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.tag(), tag);
    ExpectReadingNear(response.photocurrent_ua(), ExpectedPhotocurrentsUa(phases, amplitudes));
  }
  // A malformed configuration ends the stream with INVALID_ARGUMENT.
  pb::QueryRequest bad;
  bad.add_amplitudes(0.5);
  ASSERT_TRUE(stream->Write(bad));
  pb::QueryResponse response;
  EXPECT_FALSE(stream->Read(&response));
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("amplitudes has 1 entries"), std::string::npos);
}

// The client sends ahead without waiting for answers: every message before
// the bad one is answered in order, and nothing from the bad one on runs.
TEST_F(DaemonE2eTest, PipelinedQueryAnswersInOrderAndStopsAtTheFirstBadMessage) {
  StartDaemon("127.0.0.1:0");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Query(&context);
  constexpr std::uint64_t kMessages = 300;
  constexpr std::uint64_t kBad = 201;
  std::vector<std::vector<double>> phases(kMessages + 1), amplitudes(kMessages + 1);
  for (std::uint64_t tag = 1; tag <= kMessages; ++tag) {
    phases[tag] = RandomVector(56, 0.0, std::numbers::pi, 1000 + tag);
    amplitudes[tag] = RandomVector(kN, 0.0, 1.0, 2000 + tag);
    if (tag == kBad) amplitudes[tag][3] = 1.5;  // out of range
    pb::QueryRequest request;
    request.set_tag(tag);
    request.mutable_phases_rad()->Assign(phases[tag].begin(), phases[tag].end());
    request.mutable_amplitudes()->Assign(amplitudes[tag].begin(), amplitudes[tag].end());
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  pb::QueryResponse response;
  std::uint64_t answered = 0;
  while (stream->Read(&response)) {
    ++answered;
    ASSERT_EQ(response.tag(), answered);
    EXPECT_EQ(response.count(), 1u);
    if (answered % 50 == 0) {
      ExpectReadingNear(response.photocurrent_ua(),
                        ExpectedPhotocurrentsUa(phases[answered], amplitudes[answered]));
    }
  }
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("amplitudes[3]"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(answered, kBad - 1);
  // The chip holds the last good message's phases.
  pb::GetPhasesResponse now;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), now).ok());
  ASSERT_EQ(now.phases_rad_size(), 56);
  for (int i = 0; i < 56; ++i) EXPECT_NEAR(now.phases_rad(i), phases[kBad - 1][i], 1e-3);
}

TEST_F(DaemonE2eTest, BatchedQueryMessagesRunEveryRowOrNone) {
  StartDaemon("127.0.0.1:0");
  constexpr int kRows = 5;
  std::vector<std::vector<double>> phases(kRows), amplitudes(kRows);
  pb::QueryRequest batch;
  batch.set_tag(7);
  batch.set_count(kRows);
  for (int r = 0; r < kRows; ++r) {
    phases[r] = RandomVector(56, 0.0, std::numbers::pi, 300 + r);
    amplitudes[r] = RandomVector(kN, 0.0, 1.0, 400 + r);
    batch.mutable_phases_rad()->Add(phases[r].begin(), phases[r].end());
    batch.mutable_amplitudes()->Add(amplitudes[r].begin(), amplitudes[r].end());
  }
  {
    grpc::ClientContext context;
    auto stream = stub_->Query(&context);
    ASSERT_TRUE(stream->Write(batch));
    stream->WritesDone();
    pb::QueryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.tag(), 7u);
    ASSERT_EQ(response.count(), static_cast<std::uint32_t>(kRows));
    ASSERT_EQ(response.photocurrent_ua_size(), kRows * kN);
    for (int r = 0; r < kRows; ++r) {
      google::protobuf::RepeatedField<double> row(
          response.photocurrent_ua().begin() + r * kN,
          response.photocurrent_ua().begin() + (r + 1) * kN);
      ExpectReadingNear(row, ExpectedPhotocurrentsUa(phases[r], amplitudes[r]));
    }
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_TRUE(stream->Finish().ok());
  }
  pb::GetPhasesResponse before;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), before).ok());
  // One bad row refuses the whole message: the chip keeps what it had.
  pb::QueryRequest bad_row = batch;
  for (int r = 0; r < kRows; ++r) bad_row.set_phases_rad(r * 56, 0.3 * r);  // differs from before
  bad_row.set_amplitudes(3 * kN + 2, -0.5);
  pb::QueryRequest bad_shape = batch;
  bad_shape.mutable_amplitudes()->RemoveLast();
  for (const auto& [bad, expected] : {std::pair{bad_row, std::string("configuration 3")},
                                      std::pair{bad_shape, std::string("amplitudes has 39")}}) {
    grpc::ClientContext context;
    auto stream = stub_->Query(&context);
    ASSERT_TRUE(stream->Write(bad));
    stream->WritesDone();
    pb::QueryResponse response;
    EXPECT_FALSE(stream->Read(&response));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find(expected), std::string::npos) << status.error_message();
  }
  pb::GetPhasesResponse after;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), after).ok());
  ASSERT_EQ(after.phases_rad_size(), before.phases_rad_size());
  for (int i = 0; i < after.phases_rad_size(); ++i) {
    EXPECT_EQ(after.phases_rad(i), before.phases_rad(i));
  }
}

TEST_F(DaemonE2eTest, HealthServingAndSigtermDrivesHeatersToZeroAndExitsZero) {
  StartDaemon("127.0.0.1:0");
  EXPECT_TRUE(address_.starts_with("127.0.0.1:")) << address_;
  EXPECT_NE(address_, "127.0.0.1:0");

  EXPECT_EQ(testing::CheckHealth(channel_), testing::Serving::kServing);

  pb::SetPhasesRequest request;
  request.add_phases_rad(2.0);
  request.add_indices(7);
  pb::SetPhasesResponse response;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::SetPhases, request, response).ok());
  EXPECT_GT(response.total_heater_power_mw(), 0.0);

  daemon_->Signal(SIGTERM);
  const CommandResult result = daemon_->Wait();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("all heaters and modulators driven to 0 V"), std::string::npos)
      << result.err;
}

TEST_F(DaemonE2eTest, MalformedConfigExitsNonZeroWithMessage) {
  std::ofstream(config_) << "chip_file: \"ideal8.textproto\"\nbackend: BACKEND_SIM\nsim {";
  const CommandResult result =
      RunCommand({PHOTONICD_PATH, "--config", config_.string(), "--listen", "127.0.0.1:0"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("photonicd.textproto:3:"), std::string::npos) << result.err;
}

// The daemon serves every shipped chip description: info, a write, a read.
TEST_F(DaemonE2eTest, ServesEveryShippedChipDescription) {
  for (const std::string chip : {"clements8", "clements16", "onn_svd8x24", "mrr_bank8",
                                 "svd8_coherent", "mlp_64_24_24_10_chip", "cnn_fmnist_chip"}) {
    SCOPED_TRACE(chip);
    WriteConfig(kChipsDir + "/" + chip + ".textproto");
    StartDaemon("unix:" + (dir_ / (chip + ".sock")).string());
    pb::ChipInfo info;
    ASSERT_TRUE(Call(&pb::ChipService::Stub::GetChipInfo, pb::GetChipInfoRequest(), info).ok());
    EXPECT_EQ(info.name(), chip);
    EXPECT_GT(info.phase_count(), 0u);
    pb::SetPhasesRequest set;
    set.add_phases_rad(1.0);
    set.add_indices(info.phase_count() - 1);
    pb::SetPhasesResponse set_response;
    ASSERT_TRUE(Call(&pb::ChipService::Stub::SetPhases, set, set_response).ok());
    pb::SetInputsRequest inputs;
    for (std::uint32_t i = 0; i < info.input_count(); ++i) inputs.add_amplitudes(0.5);
    pb::SetInputsResponse inputs_response;
    ASSERT_TRUE(Call(&pb::ChipService::Stub::SetInputs, inputs, inputs_response).ok());
    pb::ReadDetectorsResponse reading;
    ASSERT_TRUE(
        Call(&pb::ChipService::Stub::ReadDetectors, pb::ReadDetectorsRequest(), reading).ok());
    EXPECT_EQ(reading.photocurrent_ua_size(), static_cast<int>(info.output_count()));
    // An open client connection holds a shutdown for its grace period.
    stub_.reset();
    channel_.reset();
    daemon_->Signal(SIGTERM);
    EXPECT_EQ(daemon_->Wait().exit_code, 0);
  }
}

// A 4x4 chip with random phase biases, heater spreads, crosstalk and noise.
constexpr char kFabricatedChip[] = R"pb(
  name: "fab4"
  circuits {
    name: "mesh"
    mesh { topology: MESH_TOPOLOGY_CLEMENTS size: 4 }
  }
  laser_power_mw: 1
  heater { resistance_ohm: 1000 p_pi_mw: 22.5 max_voltage_v: 10 max_current_ma: 12 dac_bits: 16 }
  modulator { v_pi_v: 2.5 max_voltage_v: 3 dac_bits: 16 }
  detector {
    responsivity_a_per_w: 0.9
    dark_current_na: 1
    tia_gain_ohm: 500
    bandwidth_hz: 1e6
    temperature_k: 300
    adc_bits: 16
    adc_full_scale_v: 2.5
    sample_time_us: 1
  }
  max_total_heater_power_mw: 1000
  fabrication { resistance_spread: 0.05 efficiency_spread: 0.05 random_phase_bias: true }
  thermal { crosstalk_nearest: 0.03 crosstalk_decay_pitch: 1 crosstalk_cutoff_pitch: 3 tau_us: 5 }
  tec { setpoint_c: 25 }
)pb";

class CalibrationE2eTest : public DaemonE2eTest {
 protected:
  // photonicd on the fabricated chip, with a state directory.
  void StartFab4Daemon() {
    std::ofstream(dir_ / "fab4.textproto") << kFabricatedChip;
    std::ofstream(dir_ / "photonicd.textproto")
        << "chip_file: \"fab4.textproto\"\nbackend: BACKEND_SIM\nsim { seed: 8 }\n"
        << "state_dir: \"" << (dir_ / "state").string() << "\"\n";
    config_ = dir_ / "photonicd.textproto";
    StartDaemon(socket());
  }
  // dir_ is made in SetUp.
  std::string socket() const { return "unix:" + (dir_ / "d.sock").string(); }
  std::filesystem::path stored() const {
    return dir_ / "state" / "fab4.sim-seed-8.calibration.textproto";
  }
};

// Reads progress until its fraction reaches `fraction`; false if the stream
// ended first.
bool ReadUntil(grpc::ClientReaderInterface<pb::CalibrationProgress>& stream, double fraction,
               double& seen) {
  pb::CalibrationProgress progress;
  while (stream.Read(&progress)) {
    seen = progress.fraction();
    if (seen >= fraction) return true;
  }
  return false;
}

TEST_F(CalibrationE2eTest, CalibrationServesReadsMeanwhileAndCancelLeavesTheChipSafe) {
  StartFab4Daemon();
  auto calibration = pb::CalibrationService::NewStub(channel_);
  // Long enough (tens of seconds) that it is still running at every step.
  pb::CalibrateRequest long_run;
  long_run.set_configurations(2000);
  long_run.set_averages(64);
  grpc::ClientContext first_context;
  auto first = calibration->Calibrate(&first_context, long_run);
  double seen = 0.0;
  ASSERT_TRUE(ReadUntil(*first, 0.0, seen));

  // Reads are served while it runs; writes are refused: it holds the chip.
  pb::ReadDetectorsResponse reading;
  EXPECT_TRUE(
      Call(&pb::ChipService::Stub::ReadDetectors, pb::ReadDetectorsRequest(), reading).ok());
  pb::SetPhasesRequest write;
  for (int i = 0; i < 12; ++i) write.add_phases_rad(0.5);
  pb::SetPhasesResponse written;
  const grpc::Status refused = Call(&pb::ChipService::Stub::SetPhases, write, written);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("leased to calibration"), std::string::npos)
      << refused.error_message();
  // A second call does not start another calibration: it watches this one,
  // and the first call ends.
  grpc::ClientContext second_context;
  auto second = calibration->Calibrate(&second_context, pb::CalibrateRequest());
  pb::CalibrationProgress progress;
  while (first->Read(&progress)) EXPECT_FALSE(progress.has_result());
  EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(second->Read(&progress));
  EXPECT_GE(progress.fraction(), seen);
  {
    grpc::ClientContext context;
    pb::CancelCalibrationReply reply;
    ASSERT_TRUE(calibration->CancelCalibration(&context, {}, &reply).ok());
    EXPECT_GT(reply.fraction_done(), 0.0);
    EXPECT_LT(reply.fraction_done(), 1.0);
  }
  // The watching call ends CANCELLED, nothing is stored, the chip is safe
  // and free for writes again.
  while (second->Read(&progress)) EXPECT_FALSE(progress.has_result());
  EXPECT_EQ(second->Finish().error_code(), grpc::StatusCode::CANCELLED);
  {
    grpc::ClientContext context;
    pb::PhaseCalibration none;
    EXPECT_EQ(calibration->GetCalibration(&context, {}, &none).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_FALSE(std::filesystem::exists(stored()));
  pb::GetPhasesResponse phases;
  ASSERT_TRUE(Call(&pb::ChipService::Stub::GetPhases, pb::GetPhasesRequest(), phases).ok());
  EXPECT_EQ(phases.total_heater_power_mw(), 0.0);
  EXPECT_TRUE(Call(&pb::ChipService::Stub::SetPhases, write, written).ok());
  {
    grpc::ClientContext context;
    pb::CancelCalibrationReply reply;
    EXPECT_EQ(calibration->CancelCalibration(&context, {}, &reply).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(CalibrationE2eTest, CalibrationGoesOnWhenItsClientGoesAwayAndCanBeWatchedAgain) {
  StartFab4Daemon();
  auto calibration = pb::CalibrationService::NewStub(channel_);
  // Long enough (about a second) to leave it half way.
  pb::CalibrateRequest request;
  request.set_configurations(1000);
  request.set_averages(64);
  double seen_first = 0.0;
  {
    grpc::ClientContext context;
    auto first = calibration->Calibrate(&context, request);
    ASSERT_TRUE(ReadUntil(*first, 0.1, seen_first));
    ASSERT_LT(seen_first, 0.5);
    context.TryCancel();  // the client goes away
    EXPECT_EQ(first->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Calibrating again watches the run that went on: its progress does not
  // start over, and it ends with the result, stored.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
  auto again = calibration->Calibrate(&context, pb::CalibrateRequest());
  pb::CalibrationProgress progress;
  ASSERT_TRUE(again->Read(&progress)) << again->Finish().error_message();
  EXPECT_GE(progress.fraction(), seen_first);
  pb::PhaseCalibration result = progress.result();
  while (again->Read(&progress)) {
    if (progress.has_result()) result = progress.result();
  }
  ASSERT_TRUE(again->Finish().ok());
  ASSERT_EQ(result.phase_bias_rad_size(), 12);
  grpc::ClientContext get_context;
  pb::PhaseCalibration now;
  ASSERT_TRUE(calibration->GetCalibration(&get_context, {}, &now).ok());
  EXPECT_EQ(now.created_at(), result.created_at());
  EXPECT_TRUE(std::filesystem::exists(stored()));
}

TEST_F(CalibrationE2eTest, CalibrationIsStreamedStoredAndReloadedAfterRestart) {
  StartFab4Daemon();
  const std::string socket = this->socket();
  auto calibration = pb::CalibrationService::NewStub(channel_);
  auto program = [&](std::uint64_t seed) {
    grpc::ClientContext context;
    pb::ProgramUnitaryRequest request;
    request.set_seed(seed);
    pb::ProgramUnitaryResponse response;
    const grpc::Status status = calibration->ProgramUnitary(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.fidelity();
  };
  {
    grpc::ClientContext context;
    pb::PhaseCalibration none;
    EXPECT_EQ(calibration->GetCalibration(&context, {}, &none).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  const double before = program(5);
  {  // A malformed request is refused before anything runs.
    grpc::ClientContext context;
    pb::CalibrateRequest request;
    request.set_configurations(2);
    auto stream = calibration->Calibrate(&context, request);
    pb::CalibrationProgress progress;
    EXPECT_FALSE(stream->Read(&progress));
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("configurations = 2"), std::string::npos);
  }
  pb::PhaseCalibration result;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    pb::CalibrateRequest request;
    request.set_configurations(24);
    auto stream = calibration->Calibrate(&context, request);
    pb::CalibrationProgress progress;
    int messages = 0;
    double last_fraction = -1.0;
    while (stream->Read(&progress)) {
      ++messages;
      EXPECT_GE(progress.fraction(), last_fraction);
      last_fraction = progress.fraction();
      if (progress.has_result()) result = progress.result();
    }
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_GE(messages, 2);
    EXPECT_EQ(last_fraction, 1.0);
    ASSERT_EQ(result.phase_bias_rad_size(), 12);
  }
  const double after = program(5);
  EXPECT_LT(before, 0.9);
  EXPECT_GT(after, 0.97);
  EXPECT_TRUE(std::filesystem::exists(stored()));
  ASSERT_TRUE(result.has_temperature_c());  // the TEC's reading when it ended
  EXPECT_NEAR(result.temperature_c(), 25.0, 0.5);

  // A restarted daemon loads the calibration and programs as well as before.
  stub_.reset();
  calibration.reset();
  channel_.reset();
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait().exit_code, 0);
  StartDaemon(socket);
  calibration = pb::CalibrationService::NewStub(channel_);
  grpc::ClientContext context;
  pb::PhaseCalibration reloaded;
  ASSERT_TRUE(calibration->GetCalibration(&context, {}, &reloaded).ok());
  EXPECT_EQ(reloaded.created_at(), result.created_at());
  EXPECT_NEAR(program(5), after, 0.01);
}

TEST_F(DaemonE2eTest, PhotonctlReadsAndSetsTheTemperature) {
  StartDaemon("unix:" + (dir_ / "t.sock").string());
  CommandResult shown = Photonctl({"--json", "temperature"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  pb::Temperature temperature;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(shown.out, &temperature).ok())
      << shown.out;
  const double setpoint = temperature.setpoint_c();
  EXPECT_NEAR(temperature.temperature_c(), setpoint, 0.5);
  CommandResult set = Photonctl({"temperature", "--setpoint", std::to_string(setpoint + 1)});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("TEC setpoint " + absl::StrFormat("%.3f", setpoint + 1)),
            std::string::npos)
      << set.out;
  CommandResult refused = Photonctl({"temperature", "--setpoint", "1000"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("outside"), std::string::npos) << refused.err;
}

TEST_F(DaemonE2eTest, PhotonctlReportsUnreachableDaemon) {
  address_ = "unix:" + (dir_ / "nobody.sock").string();
  const CommandResult result = Photonctl({"--connect-timeout", "0.2", "info"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("cannot reach photonicd"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace phc
