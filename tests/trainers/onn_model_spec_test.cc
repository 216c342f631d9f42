// Model descriptions (model.proto): what is refused and why, the shipped
// models' sizes, the image pipeline, and in silico training end to end on
// synthetic data (both realisations learn; cancel and bad options).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/model.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::ModelSpec;

const std::filesystem::path kModels = std::filesystem::path(PHC_SOURCE_DIR) / "deploy/models";

ModelSpec SmallMlp() {
  ModelSpec spec;
  spec.set_name("small");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(8);
  spec.add_layers()->mutable_relu()->set_clip(4.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

void ExpectRefused(const ModelSpec& spec, const std::string& fragment) {
  const absl::Status status = ValidateModelSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status;
  EXPECT_FALSE(Model::Build(spec, Realisation::kOptical, 1).ok());
}

TEST(ModelSpecTest, UnusableDescriptionsAreRefusedWithTheFieldNamed) {
  EXPECT_TRUE(ValidateModelSpec(SmallMlp()).ok());
  ModelSpec spec = SmallMlp();
  spec.set_core_size(1);
  ExpectRefused(spec, "core_size");
  spec = SmallMlp();
  spec.mutable_input()->set_dataset("mnist");
  ExpectRefused(spec, "dataset");
  spec = SmallMlp();
  spec.mutable_layers(2)->mutable_linear()->set_outputs(4);
  ExpectRefused(spec, "one output per class (3)");
  spec = SmallMlp();
  spec.add_layers()->mutable_conv()->set_channels(2);
  ExpectRefused(spec, "model layer 3: a convolution needs an image");
  spec = SmallMlp();
  spec.mutable_layers(1)->mutable_relu()->set_clip(-1.0);
  ExpectRefused(spec, "model layer 1: relu clip");
  spec = SmallMlp();
  spec.add_layers();
  ExpectRefused(spec, "no layer kind");
  spec = SmallMlp();
  auto* conv = spec.mutable_layers(0)->mutable_conv();
  conv->set_channels(2);
  conv->set_kernel(9);
  ExpectRefused(spec, "kernel 9 does not fit a 4x4 image");
  // Values that would overflow int or exhaust memory are refused up front.
  conv->set_kernel(3);
  conv->set_stride(4294967295u);
  ExpectRefused(spec, "conv stride 4294967295 must be at most the image side 4");
  conv->set_stride(1);
  conv->set_kernel(4294967295u);
  conv->set_padding(2);
  ExpectRefused(spec, "conv kernel 4294967295 does not fit a 4x4 image with padding 2");
  conv->set_padding(4294967294u);
  ExpectRefused(spec, "conv padding 4294967294 must be smaller than the kernel 4294967295 and");
  spec = SmallMlp();
  spec.mutable_input()->set_image_size(128);
  spec.mutable_layers(0)->mutable_linear()->set_outputs(4096);
  ExpectRefused(spec, "model layer 0: 67108864 weights; at most 16777216");
  spec.mutable_layers(0)->mutable_linear()->set_outputs(1024);
  spec.set_core_size(2);
  ExpectRefused(spec, "model layer 0: 4194304 cores of 2x2; at most 16384");
}

TEST(ModelSpecTest, LoadingNamesTheFileAndLine) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "model_spec_test";
  std::filesystem::create_directories(dir);
  EXPECT_EQ(LoadModelSpec(dir / "missing.textproto").status().code(), absl::StatusCode::kNotFound);
  { std::ofstream(dir / "bad.textproto") << "name: \"x\"\ncore_size: eight\n"; }
  const absl::Status bad = LoadModelSpec(dir / "bad.textproto").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("bad.textproto:2:"), std::string::npos) << bad;
}

TEST(ModelSpecTest, ShippedModelsBuildAtThePapersScale) {
  struct Expected {
    const char* file;
    int cores;
    int inputs;
  };
  for (const Expected& e : {Expected{"mlp_64_24_24_10", 39, 64}, Expected{"cnn_fmnist", 38, 1024},
                            Expected{"ffn5_gift", 168, 64}, Expected{"hybrid_ntkd", 1, 784}}) {
    SCOPED_TRACE(e.file);
    const absl::StatusOr<ModelSpec> spec =
        LoadModelSpec(kModels / (std::string(e.file) + ".textproto"));
    ASSERT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<Model> model = Model::Build(*spec, Realisation::kOptical, 1);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ(model->core_count(), e.cores);
    EXPECT_EQ(model->phase_count(),
              e.cores * SvdCore::PhaseCount(static_cast<int>(spec->core_size())));
    EXPECT_EQ(model->input_width(), e.inputs);
    absl::StatusOr<Model> twin = Model::Build(*spec, Realisation::kDigital, 1);
    ASSERT_TRUE(twin.ok());
    EXPECT_EQ(twin->core_count(), 0);
  }
  // The issue asks for a model of at least 10,000 phases.
  const absl::StatusOr<ModelSpec> cnn = LoadModelSpec(kModels / "cnn_fmnist.textproto");
  ASSERT_TRUE(cnn.ok());
  EXPECT_GE(Model::Build(*cnn, Realisation::kOptical, 1)->phase_count(), 10000);
  // NTKD's electronic teacher: every layer digital, LeNet-5's weights.
  const absl::StatusOr<ModelSpec> lenet = LoadModelSpec(kModels / "lenet_teacher.textproto");
  ASSERT_TRUE(lenet.ok()) << lenet.status();
  absl::StatusOr<Model> teacher = Model::Build(*lenet, Realisation::kOptical, 1);
  ASSERT_TRUE(teacher.ok());
  EXPECT_EQ(teacher->core_count(), 0);
  EXPECT_EQ(teacher->parameter_count(), 150 + 2400 + 400 * 120 + 120 * 84 + 84 * 10);
  EXPECT_EQ(teacher->input_width(), 784);
}

TEST(ModelImagesTest, DownsamplingAveragesAreasAndPaddingCentres) {
  ImageSet images;
  images.rows = images.cols = 28;
  images.pixels = Eigen::MatrixXd::Zero(2, 28 * 28);
  images.pixels.row(0).setConstant(255.0);
  for (int y = 0; y < 28; ++y) images.pixels(1, y * 28 + 27) = 255.0;  // last column lit
  images.labels = {0, 9};
  ModelSpec spec = SmallMlp();
  spec.mutable_input()->set_image_size(8);
  spec.mutable_input()->set_classes(10);
  const Dataset small = ImagesForModel(images, spec);
  ASSERT_EQ(small.feature_count(), 64);
  EXPECT_NEAR(small.features.row(0).minCoeff(), 1.0, 1e-12);
  EXPECT_NEAR(small.features.row(0).maxCoeff(), 1.0, 1e-12);
  // The lit column (1/28 of the area) lands in the last output column,
  // which covers 3.5 input columns: 1/3.5 of it is lit.
  EXPECT_NEAR(small.features(1, 7), 1.0 / 3.5, 1e-12);
  EXPECT_NEAR(small.features.row(1).sum(), 64.0 / 28.0, 1e-12);  // mean preserved
  spec.mutable_input()->set_image_size(32);
  const Dataset padded = ImagesForModel(images, spec);
  ASSERT_EQ(padded.feature_count(), 1024);
  EXPECT_EQ(padded.features(1, 2 * 32 + 29), 1.0);  // row 0 of the image, column 27, offset 2
  EXPECT_EQ(padded.features(1, 2 * 32 + 30), 0.0);
  EXPECT_EQ(padded.features.row(0).sum(), 784.0);
  spec.mutable_input()->set_classes(5);
  EXPECT_EQ(ImagesForModel(images, spec).size(), 1);  // label 9 dropped
}

Dataset Clusters(int samples, std::uint64_t stream) {
  return MakeClusters(samples, 16, 3, 0.15, 21, stream);
}

TEST(InSilicoTest, BothRealisationsLearnSyntheticClusters) {
  const Dataset train = Clusters(600, 0), test = Clusters(300, 1);
  for (const Realisation realisation : {Realisation::kOptical, Realisation::kDigital}) {
    absl::StatusOr<Model> model = Model::Build(SmallMlp(), realisation, 3);
    ASSERT_TRUE(model.ok());
    const double before = EvaluateAccuracy(*model, test);
    int reports = 0;
    const absl::StatusOr<InSilicoResult> result =
        TrainInSilico(*model, train, test, {.epochs = 8, .batch_size = 16, .learning_rate = 0.01},
                      [&](const EpochReport& report) {
                        ++reports;
                        EXPECT_EQ(report.epoch, reports);
                        EXPECT_EQ(report.samples, 600);
                      });
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(reports, 8);
    EXPECT_GT(result->test_accuracy, 0.9) << "before training: " << before;
    EXPECT_LT(result->epochs.back().train_loss, result->epochs.front().train_loss);
  }
}

TEST(InSilicoTest, CancelStopsAtTheNextMinibatchAndBadOptionsAreRefused) {
  const Dataset train = Clusters(200, 0), test = Clusters(50, 1);
  absl::StatusOr<Model> model = Model::Build(SmallMlp(), Realisation::kOptical, 3);
  ASSERT_TRUE(model.ok());
  const Eigen::VectorXd start = model->Parameters();
  std::atomic<bool> cancel{true};
  const absl::StatusOr<InSilicoResult> cancelled =
      TrainInSilico(*model, train, test, {.epochs = 5}, {}, &cancel);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_TRUE(cancelled->cancelled);
  EXPECT_TRUE(cancelled->epochs.empty());
  EXPECT_EQ(model->Parameters(), start);

  EXPECT_EQ(TrainInSilico(*model, train, test, {.epochs = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainInSilico(*model, train, test, {.learning_rate = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const Dataset wrong = MakeClusters(10, 9, 3, 0.1, 1);
  const absl::Status misfit = TrainInSilico(*model, wrong, test, {}).status();
  EXPECT_NE(misfit.message().find("has 9 features; the model reads 16"), std::string::npos)
      << misfit;
  EXPECT_EQ(model->Parameters(), start);
}

}  // namespace
}  // namespace phc::trainers::onn
