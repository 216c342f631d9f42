// NTK-aligned distillation over every parameter of a model
// (onn/tangent_kernel.h): the random-tangent estimate of the kernel
// converges to the exact empirical NTK (per-sample Jacobians), the
// distillation loss's analytic gradient matches central differences for
// optical and digital parameters, a frozen frontend gets no gradient and
// is left unchanged by training, and distillation alone pulls the
// student's kernel towards the teacher's.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "phc/trainers/dataset.h"
#include "phc/trainers/diff/distillation.h"
#include "phc/trainers/onn/in_silico.h"
#include "phc/trainers/onn/tangent_kernel.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::ModelSpec;

constexpr int kClasses = 3;

void AddDigitalLinear(ModelSpec& spec, int outputs) {
  auto* linear = spec.add_layers()->mutable_linear();
  linear->set_outputs(static_cast<std::uint32_t>(outputs));
  linear->set_digital(true);
}

// A hybrid student in small: an optical convolution over a 4x4 image, a
// clipped ReLU, a digital hidden layer and a digital readout.
ModelSpec SmallHybrid() {
  ModelSpec spec;
  spec.set_name("small_hybrid");
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(kClasses);
  spec.set_core_size(4);
  auto* conv = spec.add_layers()->mutable_conv();
  conv->set_channels(3);
  conv->set_kernel(2);
  conv->set_stride(2);
  spec.add_layers()->mutable_relu()->set_clip(2.0);
  AddDigitalLinear(spec, 6);
  spec.add_layers()->mutable_relu();
  AddDigitalLinear(spec, kClasses);
  return spec;
}

// A digital teacher over the same images.
ModelSpec SmallTeacher() {
  ModelSpec spec = SmallHybrid();
  spec.set_name("small_teacher");
  spec.clear_layers();
  AddDigitalLinear(spec, 10);
  spec.add_layers()->mutable_relu();
  AddDigitalLinear(spec, kClasses);
  return spec;
}

Model Build(const ModelSpec& spec, std::uint64_t seed) {
  absl::StatusOr<Model> model = Model::Build(spec, Realisation::kOptical, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

ModelData Data(const ModelSpec& spec) {
  absl::StatusOr<ModelData> data = LoadModelData(spec, "", 240, 120);
  EXPECT_TRUE(data.ok()) << data.status();
  return *std::move(data);
}

double RelativeDistance(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / b.norm();
}

TEST(TangentKernelTest, RandomTangentEstimateConvergesToTheExactKernel) {
  Model model = Build(SmallHybrid(), 3);
  const Eigen::MatrixXd x = Data(SmallHybrid()).train.features.topRows(6);
  const Eigen::MatrixXd exact = ExactTangentKernel(model, x);
  ASSERT_GT(exact.norm(), 0.0);
  // Each entry's Monte Carlo spread over S tangents is about
  // sqrt((K_ii K_jj + K_ij^2) / S): at S = 4000, 2-3 % of the norm.
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd estimate = EstimateTangentKernel(model, x, {.tangents = 4000}, rng);
  EXPECT_LT(RelativeDistance(estimate, exact), 0.06);
  // The kernel of the backend's parameters only (inputs: the ReLU's).
  const Eigen::VectorXd before = model.Parameters();
  model.Forward(x);
  const Eigen::MatrixXd frontend_out = model.layers()[0]->Forward(x);
  const Eigen::MatrixXd backend_exact = ExactTangentKernel(model, frontend_out, 1);
  const Eigen::MatrixXd backend_estimate =
      EstimateTangentKernel(model, frontend_out, {.tangents = 4000}, rng, 1);
  EXPECT_LT(RelativeDistance(backend_estimate, backend_exact), 0.06);
  EXPECT_GT(RelativeDistance(backend_exact, exact), 0.05);  // not the same kernel
  EXPECT_EQ(model.Parameters(), before);                    // left as they were
}

// Central differences of the loss with the same tangents (the same rng
// state) at every evaluation.
double LossAt(Model& model, const Eigen::VectorXd& theta, const Eigen::MatrixXd& x,
              const std::vector<int>& y, const Eigen::MatrixXd& teacher, const NtkdOptions& o,
              std::size_t first_layer) {
  model.SetParameters(theta);
  std::mt19937_64 rng(11);
  return NtkdLossAndGradients(model, x, y, teacher, o, rng, first_layer).total;
}

TEST(NtkdLossTest, AnalyticGradientMatchesCentralDifferencesOverEveryParameter) {
  Model student = Build(SmallHybrid(), 5);
  Model teacher = Build(SmallTeacher(), 6);
  const ModelData data = Data(SmallHybrid());
  const Eigen::MatrixXd x = data.train.features.topRows(8);
  const std::vector<int> y(data.train.labels.begin(), data.train.labels.begin() + 8);
  std::mt19937_64 teacher_rng(2);
  const Eigen::MatrixXd t = EstimateTangentKernel(teacher, x, {.tangents = 64}, teacher_rng);
  const NtkdOptions options{.alpha = 0.7, .beta = 2.0, .kernel = {.tangents = 3, .step = 1e-2}};
  for (const std::size_t first_layer : {std::size_t{0}, std::size_t{1}}) {
    SCOPED_TRACE(first_layer);
    const Eigen::MatrixXd in = first_layer == 0 ? x : student.layers()[0]->Forward(x);
    const Eigen::VectorXd theta = student.Parameters();
    std::mt19937_64 rng(11);
    const NtkdLoss loss = NtkdLossAndGradients(student, in, y, t, options, rng, first_layer);
    EXPECT_GT(loss.kernel_distance, 0.0);
    EXPECT_NEAR(loss.total, 0.7 * loss.cross_entropy + 2.0 * loss.kernel_distance, 1e-12);
    const Eigen::VectorXd analytic = student.Gradients();
    EXPECT_EQ(student.Parameters(), theta);
    const int first = student.FirstParameter(first_layer);
    const double h = 1e-6;
    for (int p = 0; p < student.parameter_count(); ++p) {
      Eigen::VectorXd plus = theta, minus = theta;
      plus(p) += h;
      minus(p) -= h;
      const double numeric = (LossAt(student, plus, in, y, t, options, first_layer) -
                              LossAt(student, minus, in, y, t, options, first_layer)) /
                             (2 * h);
      if (p < first) {
        EXPECT_EQ(analytic(p), 0.0) << p;  // frozen
      } else {
        EXPECT_NEAR(analytic(p), numeric, 1e-5 * analytic.cwiseAbs().maxCoeff() + 1e-8) << p;
      }
    }
    student.SetParameters(theta);
  }
}

TEST(NtkdLossTest, DistillationAlonePullsTheStudentsKernelTowardsTheTeachers) {
  Model student = Build(SmallHybrid(), 8);
  Model teacher = Build(SmallTeacher(), 9);
  const ModelData data = Data(SmallHybrid());
  const Eigen::MatrixXd x = data.train.features.topRows(12);
  const std::vector<int> y(data.train.labels.begin(), data.train.labels.begin() + 12);
  const Eigen::MatrixXd t = ExactTangentKernel(teacher, x);
  auto distance = [&] {
    return diff::NormalisedKernelDistance(t, ExactTangentKernel(student, x), nullptr);
  };
  const double before = distance();
  diff::Adam adam(student.parameter_count(), 0.01);
  std::mt19937_64 rng(4);
  const NtkdOptions options{.alpha = 0.0, .beta = 1.0, .kernel = {.tangents = 16}};
  for (int step = 0; step < 150; ++step) {
    NtkdLossAndGradients(student, x, y, t, options, rng);
    Eigen::VectorXd theta = student.Parameters();
    adam.Step(theta, student.Gradients());
    student.SetParameters(theta);
  }
  EXPECT_LT(distance(), 0.5 * before) << "before " << before;
}

TEST(NtkdTrainingTest, BackendFineTuningLeavesTheFrozenFrontendUntouched) {
  Model student = Build(SmallHybrid(), 12);
  Model teacher = Build(SmallTeacher(), 13);
  const ModelData data = Data(SmallHybrid());
  ASSERT_TRUE(
      TrainInSilico(teacher, data.train, data.test, {.epochs = 3, .learning_rate = 0.01}).ok());
  // The frontend's outputs, as a fabricated frontend's measurements would be.
  Dataset train = data.train, test = data.test;
  train.features = student.layers()[0]->Forward(data.train.features);
  test.features = student.layers()[0]->Forward(data.test.features);
  const Eigen::VectorXd frontend = student.Parameters().head(student.FirstParameter(1));
  const double before = EvaluateAccuracy(student, test, 256, 1);
  const NtkdOptions options{.alpha = 1.0, .beta = 1.0};
  absl::StatusOr<InSilicoResult> tuned =
      TrainInSilico(student, train, test,
                    {.epochs = 4,
                     .learning_rate = 0.01,
                     .first_layer = 1,
                     .loss = NtkdMinibatchLoss(teacher, data.train.features, options, 1, 3)});
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ(student.Parameters().head(frontend.size()), frontend);
  EXPECT_GT(tuned->test_accuracy, before + 0.1) << "before " << before;
  EXPECT_NEAR(tuned->test_accuracy, EvaluateAccuracy(student, test, 256, 1), 1e-12);

  // Data of the wrong width for the layer, and a layer past the end, are refused.
  EXPECT_EQ(TrainInSilico(student, data.train, data.test, {.first_layer = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainInSilico(student, train, test, {.first_layer = 9}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A custom loss with phase noise would draw other noise in every pass.
  EXPECT_EQ(TrainInSilico(student, train, test,
                          {.phase_noise_std_rad = 0.01,
                           .first_layer = 1,
                           .loss = NtkdMinibatchLoss(teacher, data.train.features, options, 1, 3)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNtkdOptions({.beta = -1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNtkdOptions({.kernel = {.tangents = 0}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNtkdOptions({.kernel = {.step = 0}}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace phc::trainers::onn
