// End to end: training sessions over gRPC and photonctl, with the real
// photonicd binary: lifecycle, write lease, bad configs, and a session that
// survives a daemon restart.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "daemon_fixture.h"
#include "photonic/v1/training.grpc.pb.h"

namespace phc {
namespace {

class TrainingE2eTest : public DaemonE2eTest {
 protected:
  void StartWithStateDir() {
    std::ofstream(config_) << "chip_file: \"ideal8.textproto\"\nbackend: BACKEND_SIM\n"
                           << "sim { seed: 3 }\nstate_dir: \"" << (dir_ / "state").string()
                           << "\"\n";
    StartDaemon("unix:" + (dir_ / "d.sock").string());
    training_ = pb::TrainingService::NewStub(channel_);
  }

  static pb::SessionConfig SmallConfig(std::int64_t steps) {
    pb::SessionConfig config;
    config.add_widths(8);
    config.add_widths(4);
    config.set_dataset("synthetic");
    config.set_train_samples(200);
    config.set_test_samples(50);
    config.set_batch_size(8);
    config.set_max_steps(steps);
    config.set_eval_every(10);
    config.set_checkpoint_every(5);
    config.set_seed(4);
    config.mutable_algorithm()->set_grad_sparsity(0.5);
    return config;
  }

  grpc::Status Start(const pb::SessionConfig& config, pb::SessionStatus& status) {
    grpc::ClientContext context;
    pb::StartSessionRequest request;
    *request.mutable_config() = config;
    return training_->StartSession(&context, request, &status);
  }

  template <typename Method>
  grpc::Status OnSession(Method method, const std::string& id, pb::SessionStatus& status) {
    grpc::ClientContext context;
    pb::SessionRequest request;
    request.set_id(id);
    return (training_.get()->*method)(&context, request, &status);
  }

  // Every status WatchSession streams until the session ends.
  std::vector<pb::SessionStatus> WatchToEnd(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    pb::SessionRequest request;
    request.set_id(id);
    auto stream = training_->WatchSession(&context, request);
    std::vector<pb::SessionStatus> statuses;
    pb::SessionStatus status;
    while (stream->Read(&status)) statuses.push_back(status);
    EXPECT_TRUE(stream->Finish().ok());
    return statuses;
  }

  std::unique_ptr<pb::TrainingService::Stub> training_;
};

TEST_F(TrainingE2eTest, StartWatchPauseResumeCancelOverGrpc) {
  StartWithStateDir();
  pb::SessionStatus status;
  ASSERT_TRUE(Start(SmallConfig(1000000), status).ok());
  const std::string id = status.id();
  EXPECT_EQ(status.state(), pb::SESSION_STATE_RUNNING);

  // While it runs, the chip is leased: writes are refused, reads work.
  {
    grpc::ClientContext context;
    pb::SetPhasesRequest request;
    request.add_phases_rad(1.0);
    request.add_indices(0);
    pb::SetPhasesResponse response;
    const grpc::Status refused = stub_->SetPhases(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(refused.error_message().find(id), std::string::npos) << refused.error_message();
    grpc::ClientContext read_context;
    pb::ReadDetectorsResponse reading;
    EXPECT_TRUE(stub_->ReadDetectors(&read_context, {}, &reading).ok());
  }
  pb::SessionStatus other;
  EXPECT_EQ(Start(SmallConfig(10), other).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::PauseSession, id, status).ok());
  EXPECT_EQ(status.state(), pb::SESSION_STATE_PAUSED);
  const std::int64_t paused_at = status.step();
  pb::SessionStatus later;
  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::GetSession, id, later).ok());
  EXPECT_EQ(later.step(), paused_at);  // a paused session does not step
  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::ResumeSession, id, status).ok());
  EXPECT_EQ(status.state(), pb::SESSION_STATE_RUNNING);
  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::CancelSession, id, status).ok());
  EXPECT_EQ(status.state(), pb::SESSION_STATE_CANCELLED);
  EXPECT_EQ(status.termination_reason(), "cancelled");
  // Ended: the last status is streamed at once; the lease is released.
  const std::vector<pb::SessionStatus> statuses = WatchToEnd(id);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].state(), pb::SESSION_STATE_CANCELLED);
  grpc::ClientContext context;
  pb::SetPhasesRequest request;
  request.add_phases_rad(1.0);
  request.add_indices(0);
  pb::SetPhasesResponse response;
  EXPECT_TRUE(stub_->SetPhases(&context, request, &response).ok());
}

TEST_F(TrainingE2eTest, WatchStreamsProgressToCompletionAndTheCliSummarises) {
  StartWithStateDir();
  pb::SessionStatus status;
  ASSERT_TRUE(Start(SmallConfig(60), status).ok());
  const std::vector<pb::SessionStatus> statuses = WatchToEnd(status.id());
  ASSERT_GE(statuses.size(), 1u);
  for (std::size_t i = 1; i < statuses.size(); ++i) {
    EXPECT_GE(statuses[i].step(), statuses[i - 1].step());
    EXPECT_GE(statuses[i].loss_evaluations(), statuses[i - 1].loss_evaluations());
  }
  const pb::SessionStatus& last = statuses.back();
  EXPECT_EQ(last.state(), pb::SESSION_STATE_COMPLETED);
  EXPECT_EQ(last.termination_reason(), "max_steps");
  EXPECT_EQ(last.step(), 60);
  EXPECT_GT(last.chip_queries(), last.loss_evaluations());  // a minibatch is many queries
  EXPECT_GE(last.test_accuracy(), 0.0);

  const CommandResult list = Photonctl({"train", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(status.id()), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("completed"), std::string::npos) << list.out;
  const CommandResult cli =
      Photonctl({"train", "start", "--widths", "8,4", "--dataset", "synthetic", "--steps", "20",
                 "--train-samples", "100", "--test-samples", "20", "--batch", "4"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("ended by       max_steps"), std::string::npos) << cli.out;
}

TEST_F(TrainingE2eTest, BadConfigsGetInvalidArgumentNamingTheField) {
  StartWithStateDir();
  const std::vector<std::pair<std::function<void(pb::SessionConfig&)>, std::string>> cases = {
      {[](pb::SessionConfig& c) { c.clear_widths(); }, "widths"},
      {[](pb::SessionConfig& c) { c.add_widths(40); }, "widths"},  // needs more circuits
      {[](pb::SessionConfig& c) { c.set_batch_size(-3); }, "batch_size"},
      {[](pb::SessionConfig& c) { c.mutable_algorithm()->set_name("adam"); }, "adam"},
      {[](pb::SessionConfig& c) { c.mutable_algorithm()->set_grad_sparsity(1.5); },
       "grad_sparsity"},
      {[](pb::SessionConfig& c) { c.set_power_budget_mw(1e9); }, "power_budget_mw"},
      {[](pb::SessionConfig& c) { c.set_dataset("cifar"); }, "dataset"},
      {[](pb::SessionConfig& c) { c.set_target_accuracy(2.0); }, "target_accuracy"},
  };
  for (const auto& [mutate, field] : cases) {
    pb::SessionConfig config = SmallConfig(10);
    mutate(config);
    pb::SessionStatus status;
    const grpc::Status refused = Start(config, status);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(refused.error_message().find(field), std::string::npos)
        << field << ": " << refused.error_message();
  }
  // Nothing was started, and the chip is free.
  grpc::ClientContext context;
  pb::ListSessionsResponse list;
  ASSERT_TRUE(training_->ListSessions(&context, {}, &list).ok());
  EXPECT_EQ(list.sessions_size(), 0);
}

TEST_F(TrainingE2eTest, RunningSessionResumesAfterRestartAtItsCheckpointedStep) {
  StartWithStateDir();
  pb::SessionStatus status;
  ASSERT_TRUE(Start(SmallConfig(1000000), status).ok());
  const std::string id = status.id();
  // A client watches the session when the daemon is told to stop: its stream
  // ends, and the daemon still stops promptly.
  grpc::ClientContext watch_context;
  pb::SessionRequest watch_request;
  watch_request.set_id(id);
  auto watch = training_->WatchSession(&watch_context, watch_request);
  pb::SessionStatus first;
  ASSERT_TRUE(watch->Read(&first));
  // Stop the daemon mid-run: it checkpoints the session at a step boundary.
  daemon_->Signal(SIGTERM);
  ASSERT_EQ(daemon_->Wait().exit_code, 0);
  while (watch->Read(&first)) {
  }
  EXPECT_FALSE(watch->Finish().ok());  // cut off, not a completed session
  pb::SessionCheckpoint checkpoint;
  {
    std::ifstream file(dir_ / "state" / "sessions" / (id + ".binpb"), std::ios::binary);
    ASSERT_TRUE(checkpoint.ParseFromIstream(&file));
  }
  EXPECT_EQ(checkpoint.status().state(), pb::SESSION_STATE_RUNNING);
  const std::int64_t saved_step = checkpoint.status().step();
  EXPECT_GT(saved_step, 0);
  EXPECT_EQ(checkpoint.params_rad_size(), 56);

  training_.reset();
  stub_.reset();
  channel_.reset();
  StartWithStateDir();
  pb::SessionStatus resumed;
  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::PauseSession, id, resumed).ok());
  EXPECT_EQ(resumed.state(), pb::SESSION_STATE_PAUSED);
  EXPECT_GE(resumed.step(), saved_step);  // went on from the checkpoint, not from 0
  EXPECT_GE(resumed.loss_evaluations(), checkpoint.status().loss_evaluations());
  ASSERT_TRUE(OnSession(&pb::TrainingService::Stub::CancelSession, id, status).ok());
  EXPECT_EQ(status.state(), pb::SESSION_STATE_CANCELLED);
}

}  // namespace
}  // namespace phc
