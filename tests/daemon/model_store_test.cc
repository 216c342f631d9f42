// The model store: versioned files in <state_dir>/models that round-trip,
// and files the daemon must refuse (corrupt, another chip, parameters of the
// wrong count or not finite, a spec that no longer validates), each with a
// clear error and nothing changed.
#include "daemon/models/model_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/state_io.h"
#include "phc/trainers/onn/model.h"

namespace phc::daemon {
namespace {

using photonic::v1::ModelSpec;
using photonic::v1::StoredModel;

constexpr char kChip[] = "svd4_coherent_test";

bool Mentions(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

// 16 synthetic features -> 4 (4 cores of 4x4) -> 3 (1 core).
ModelSpec TinySpec() {
  ModelSpec spec;
  spec.set_name("tiny");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(4);
  spec.add_layers()->mutable_relu()->set_clip(4.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

// A model as training leaves it: random initial parameters, info filled.
StoredModel MakeStored(
    const std::string& id, const std::string& chip = kChip,
    trainers::onn::Realisation realisation = trainers::onn::Realisation::kOptical,
    std::int64_t created_unix_s = 1000) {
  absl::StatusOr<trainers::onn::Model> model =
      trainers::onn::Model::Build(TinySpec(), realisation, 7);
  EXPECT_TRUE(model.ok()) << model.status();
  StoredModel stored;
  stored.set_format_version(kStoredModelFormatVersion);
  stored.set_seed(7);
  *stored.mutable_spec() = TinySpec();
  const Eigen::VectorXd parameters = model->Parameters();
  stored.mutable_parameters()->Assign(parameters.data(), parameters.data() + parameters.size());
  photonic::v1::ModelInfo& info = *stored.mutable_info();
  info.set_model_id(id);
  info.set_spec_name("tiny");
  info.set_realisation(RealisationName(realisation));
  info.set_chip_name(chip);
  info.set_core_count(static_cast<std::uint32_t>(model->core_count()));
  info.set_phase_count(static_cast<std::uint32_t>(model->phase_count()));
  info.set_parameter_count(static_cast<std::uint32_t>(model->parameter_count()));
  info.set_in_silico_test_accuracy(0.9);
  info.set_created_unix_s(created_unix_s);
  info.set_last_chip_accuracy(-1.0);
  return stored;
}

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir_template =
        (std::filesystem::path(::testing::TempDir()) / "model_store_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `model` as the file of `id`, as another daemon (or a corruption)
  // would have left it.
  void WriteModelFile(const std::string& id, const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomically(dir_ / "models" / (id + ".pb"), bytes).ok());
  }

  std::filesystem::path dir_;
};

TEST_F(ModelStoreTest, ModelRoundTripsThroughItsFile) {
  ModelStore store(dir_, kChip);
  const StoredModel original = MakeStored("tiny_1");
  absl::StatusOr<photonic::v1::ModelInfo> added = store.Add(original);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(added->persistent());
  EXPECT_FALSE(added->deployed());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "models" / "tiny_1.pb"));

  ModelStore reloaded(dir_, kChip);
  EXPECT_EQ(reloaded.LoadAll(), 1);
  absl::StatusOr<StoredModel> got = reloaded.Get("tiny_1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->spec().SerializeAsString(), original.spec().SerializeAsString());
  ASSERT_EQ(got->parameters_size(), original.parameters_size());
  for (int i = 0; i < got->parameters_size(); ++i) {
    EXPECT_EQ(got->parameters(i), original.parameters(i)) << i;  // bit for bit
  }
  EXPECT_EQ(got->info().chip_name(), kChip);
  EXPECT_EQ(got->info().phase_count(), 5u * 32u);  // 5 coherent 4x4 cores
  EXPECT_EQ(got->info().created_unix_s(), 1000);

  // The rebuilt model computes with the stored parameters.
  absl::StatusOr<trainers::onn::Model> model = BuildStoredModel(*got);
  ASSERT_TRUE(model.ok()) << model.status();
  const Eigen::VectorXd parameters = model->Parameters();
  for (int i = 0; i < parameters.size(); ++i) EXPECT_EQ(parameters(i), original.parameters(i));
}

TEST_F(ModelStoreTest, ListIsOldestFirstAndGetNamesUnknownIds) {
  ModelStore store(dir_, kChip);
  ASSERT_TRUE(store.Add(MakeStored("b", kChip, trainers::onn::Realisation::kOptical, 20)).ok());
  ASSERT_TRUE(store.Add(MakeStored("a", kChip, trainers::onn::Realisation::kDigital, 30)).ok());
  ASSERT_TRUE(store.Add(MakeStored("c", kChip, trainers::onn::Realisation::kOptical, 10)).ok());
  const std::vector<photonic::v1::ModelInfo> all = store.List();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].model_id(), "c");
  EXPECT_EQ(all[1].model_id(), "b");
  EXPECT_EQ(all[2].model_id(), "a");
  EXPECT_EQ(all[2].realisation(), "digital");
  EXPECT_EQ(all[2].core_count(), 0u);
  const absl::Status missing = store.Get("nope").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Mentions(missing, "nope")) << missing;
  EXPECT_EQ(store.Add(MakeStored("a")).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ModelStoreTest, CorruptFilesAreRefusedWithDataLossAndLeftAlone) {
  const std::string good = MakeStored("cut").SerializeAsString();
  WriteModelFile("cut", good.substr(0, good.size() / 2));  // ends inside the parameters
  WriteModelFile("junk", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
  WriteModelFile("empty", "");
  ModelStore store(dir_, kChip);
  for (const std::string id : {"cut", "junk", "empty"}) {
    const std::filesystem::path path = dir_ / "models" / (id + ".pb");
    const absl::Status refused = store.ReadFile(path).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << id << ": " << refused;
    EXPECT_TRUE(Mentions(refused, path.string())) << refused;
  }
  EXPECT_EQ(store.LoadAll(), 0);
  EXPECT_TRUE(store.List().empty());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "models" / "cut.pb"));  // kept for a person to look at
}

TEST_F(ModelStoreTest, FileHoldingAnotherIdIsRefused) {
  WriteModelFile("renamed", MakeStored("original").SerializeAsString());
  ModelStore store(dir_, kChip);
  const absl::Status refused = store.ReadFile(dir_ / "models" / "renamed.pb").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << refused;
  EXPECT_TRUE(Mentions(refused, "original")) << refused;
}

TEST_F(ModelStoreTest, ModelOfAnotherChipIsRefusedNamingBothChips) {
  WriteModelFile("foreign", MakeStored("foreign", "onn_svd8x24").SerializeAsString());
  ModelStore store(dir_, kChip);
  const absl::Status refused = store.ReadFile(dir_ / "models" / "foreign.pb").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(Mentions(refused, "onn_svd8x24")) << refused;
  EXPECT_TRUE(Mentions(refused, kChip)) << refused;
  EXPECT_EQ(store.LoadAll(), 0);
  // Added directly (a bug upstream), it is refused too, and nothing is written.
  const StoredModel foreign = MakeStored("foreign2", "onn_svd8x24");
  EXPECT_EQ(store.Add(foreign).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "models" / "foreign2.pb"));
}

TEST_F(ModelStoreTest, NonFiniteParametersAreRefused) {
  for (const double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    StoredModel model = MakeStored("nan");
    model.set_parameters(3, bad);
    const absl::Status refused =
        ParseStoredModel(model.SerializeAsString(), "nan", kChip, "f").status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
    EXPECT_TRUE(Mentions(refused, "parameter 3")) << refused;
    ModelStore store(dir_, kChip);
    EXPECT_EQ(store.Add(model).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(std::filesystem::exists(dir_ / "models" / "nan.pb"));
    EXPECT_TRUE(store.List().empty());
  }
}

TEST_F(ModelStoreTest, ParametersOfTheWrongCountAreRefused) {
  StoredModel model = MakeStored("short");
  const int expected = model.parameters_size();
  model.mutable_parameters()->RemoveLast();
  const absl::Status refused =
      ParseStoredModel(model.SerializeAsString(), "short", kChip, "short.pb").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(Mentions(refused, absl::StrCat(expected - 1, " parameters stored"))) << refused;
  EXPECT_TRUE(Mentions(refused, absl::StrCat("has ", expected))) << refused;
}

TEST_F(ModelStoreTest, SpecThatNoLongerValidatesIsRefused) {
  StoredModel model = MakeStored("stale");
  model.mutable_spec()->mutable_layers(2)->mutable_linear()->set_outputs(5);  // not 3 classes
  const absl::Status refused =
      ParseStoredModel(model.SerializeAsString(), "stale", kChip, "stale.pb").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(Mentions(refused, "no longer validates")) << refused;
}

TEST_F(ModelStoreTest, OtherFormatVersionsAreRefused) {
  StoredModel model = MakeStored("future");
  model.set_format_version(2);
  const absl::Status refused =
      ParseStoredModel(model.SerializeAsString(), "future", kChip, "future.pb").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(Mentions(refused, "format_version 2")) << refused;
}

TEST_F(ModelStoreTest, IdsAreCheckedBeforeAnythingIsWritten) {
  ModelStore store(dir_, kChip);
  for (const std::string& bad :
       std::vector<std::string>{"", "Upper", "../escape", "a.b", "a b", std::string(65, 'a')}) {
    EXPECT_EQ(ValidateModelId(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store.CheckNewId(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store.Add(MakeStored(bad)).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(ValidateModelId(std::string(64, 'z')).ok());
  EXPECT_TRUE(ValidateModelId("mlp_64-24_v2").ok());
  ASSERT_TRUE(store.Add(MakeStored("taken")).ok());
  EXPECT_EQ(store.CheckNewId("taken").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape.pb"));
}

TEST_F(ModelStoreTest, DeployedModelCannotBeDeleted) {
  ModelStore store(dir_, kChip);
  ASSERT_TRUE(store.Add(MakeStored("live")).ok());
  EXPECT_EQ(store.SetDeployed({.model_id = "ghost"}).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store.SetDeployed({.model_id = "live", .phases_rad = {0.5, 1.0}}).ok());
  EXPECT_TRUE(store.Info("live")->deployed());
  const absl::Status refused = store.Delete("live");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "models" / "live.pb"));
  store.ClearDeployed();
  EXPECT_FALSE(store.Info("live")->deployed());
  ASSERT_TRUE(store.Delete("live").ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "models" / "live.pb"));
  EXPECT_EQ(store.Get("live").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Delete("live").code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelStoreTest, ChipAccuracyIsKeptInTheFile) {
  {
    ModelStore store(dir_, kChip);
    ASSERT_TRUE(store.Add(MakeStored("measured")).ok());
    ASSERT_TRUE(store.SetChipAccuracy("measured", 0.75).ok());
    ASSERT_TRUE(store.SetDeployed({.model_id = "measured"}).ok());
  }
  ModelStore reloaded(dir_, kChip);
  ASSERT_EQ(reloaded.LoadAll(), 1);
  absl::StatusOr<photonic::v1::ModelInfo> info = reloaded.Info("measured");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->last_chip_accuracy(), 0.75);
  EXPECT_FALSE(info->deployed());  // a restart drives the chip safe: nothing is deployed
}

TEST_F(ModelStoreTest, WithoutStateDirModelsLiveInMemory) {
  ModelStore store({}, kChip);
  EXPECT_FALSE(store.persistent());
  EXPECT_EQ(store.LoadAll(), 0);
  absl::StatusOr<photonic::v1::ModelInfo> added = store.Add(MakeStored("volatile"));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_FALSE(added->persistent());
  EXPECT_TRUE(store.Get("volatile").ok());
  EXPECT_TRUE(store.Delete("volatile").ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

}  // namespace
}  // namespace phc::daemon
