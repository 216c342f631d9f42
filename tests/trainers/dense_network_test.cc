// The digital network behind the DFA trainer: exact gradients against
// finite differences, and DFA learning a small task with updates aligned to
// backpropagation's.
#include "phc/trainers/dense_network.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "phc/trainers/dataset.h"
#include "phc/trainers/feedback_projector.h"

namespace phc::trainers {
namespace {

double Loss(const DenseNetwork& net, const Eigen::MatrixXf& x, std::span<const int> y) {
  double loss = 0.0;
  OutputError(net.Logits(x), y, &loss);
  return loss;
}

TEST(DenseNetworkTest, BackpropMatchesFiniteDifferences) {
  DenseNetwork net({5, 7, 6, 3}, 1);
  std::mt19937_64 rng(2);
  std::normal_distribution<float> gauss;
  Eigen::MatrixXf x(5, 4);
  for (float& v : x.reshaped()) v = gauss(rng);
  const std::vector<int> y = {0, 2, 1, 2};
  ForwardCache cache;
  net.Forward(x, cache);
  const Gradients g = BackpropGradients(net, cache, OutputError(cache.logits(), y));
  // Central differences in float: step 1e-3 (small enough not to cross a
  // ReLU kink at these inputs), agreement to 2e-3 absolute (float rounding
  // of an O(1) loss over 2e-3).
  constexpr float kStep = 1e-3f;
  for (std::size_t l = 0; l < net.layers().size(); ++l) {
    for (Eigen::Index i = 0; i < net.layers()[l].weights.size(); i += 3) {
      float& w = net.layers()[l].weights.reshaped()(i);
      const float saved = w;
      w = saved + kStep;
      const double up = Loss(net, x, y);
      w = saved - kStep;
      const double down = Loss(net, x, y);
      w = saved;
      EXPECT_NEAR(g.weights[l].reshaped()(i), (up - down) / (2 * kStep), 2e-3)
          << "layer " << l << " weight " << i;
    }
    for (Eigen::Index i = 0; i < net.layers()[l].bias.size(); ++i) {
      float& b = net.layers()[l].bias(i);
      const float saved = b;
      b = saved + kStep;
      const double up = Loss(net, x, y);
      b = saved - kStep;
      const double down = Loss(net, x, y);
      b = saved;
      EXPECT_NEAR(g.bias[l](i), (up - down) / (2 * kStep), 2e-3) << "layer " << l << " bias " << i;
    }
  }
}

TEST(DenseNetworkTest, OutputErrorIsSoftmaxMinusOneHotOverBatch) {
  Eigen::MatrixXf logits(3, 2);
  logits << 0, 1, 0, 1, 0, 1;  // sample 0: softmax (1/3, 1/3, 1/3)
  const std::vector<int> y = {1, 0};
  double loss = 0.0;
  const Eigen::MatrixXf e = OutputError(logits, y, &loss);
  EXPECT_NEAR(e(0, 0), (1.0 / 3) / 2, 1e-6);
  EXPECT_NEAR(e(1, 0), (1.0 / 3 - 1) / 2, 1e-6);
  EXPECT_NEAR(loss, std::log(3.0), 1e-6);  // both samples see uniform softmax
  EXPECT_NEAR(e.sum(), 0.0, 1e-6);
}

struct Task {
  Eigen::MatrixXf x;
  std::vector<int> y;
};

Task ClusterTask(int samples, std::uint64_t seed) {
  const Dataset d = MakeClusters(samples, 12, 4, 0.15, seed);
  return {d.features.transpose().cast<float>(), d.labels};
}

TEST(DfaTest, DigitalFeedbackLearnsAClusterTaskWithUpdatesAlignedToBackprop) {
  const Task train = ClusterTask(800, 3), test = ClusterTask(400, 3);
  DenseNetwork net({12, 32, 32, 4}, 4);
  const std::vector<int> hidden = {32, 32};
  DigitalProjector projector(MakeFeedbackMatrices(hidden, 4, 5));
  MomentumSgd sgd(net, 0.05f, 0.9f);
  const double before = Accuracy(net, test.x, test.y);
  ForwardCache cache;
  double angle_sum = 0.0;
  int angles = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    for (int start = 0; start + 32 <= 800; start += 32) {
      const Eigen::MatrixXf x = train.x.middleCols(start, 32);
      const std::span<const int> y(train.y.data() + start, 32);
      net.Forward(x, cache);
      const Eigen::MatrixXf e = OutputError(cache.logits(), y);
      auto products = projector.Project(e);
      ASSERT_TRUE(products.ok());
      const Gradients dfa = DfaGradients(net, cache, e, NormaliseFeedback(*std::move(products)));
      if (epoch >= 10) {
        angle_sum += HiddenUpdateAngleDeg(dfa, BackpropGradients(net, cache, e));
        ++angles;
      }
      sgd.Step(net, dfa);
    }
  }
  const double after = Accuracy(net, test.x, test.y);
  // Four clusters: chance is 0.25. DFA must learn the task, and once the
  // forward weights have aligned with B its hidden-layer updates point
  // within 90 degrees of the true gradient (a descent direction).
  EXPECT_LT(before, 0.5);
  EXPECT_GT(after, 0.9);
  EXPECT_LT(angle_sum / angles, 85.0);
}

TEST(DfaTest, NoiseModelAddsTheStatedMeanAndSpreadScaledByMaxError) {
  const std::vector<int> hidden = {2000};
  auto feedback = MakeFeedbackMatrices(hidden, 3, 1);
  GaussianNoiseProjector noisy(feedback, 0.03, 0.618, 2);
  DigitalProjector exact(feedback);
  Eigen::MatrixXf e(3, 1);
  e << 0.5f, -2.0f, 1.0f;  // max|e| = 2
  const Eigen::ArrayXf diff = ((*noisy.Project(e))[0] - (*exact.Project(e))[0]).array() / 2.0f;
  const double mean = diff.mean();
  const double std = std::sqrt((diff - diff.mean()).square().mean());
  // 2000 draws: standard error of the mean 0.618 / sqrt(2000) = 0.014.
  EXPECT_NEAR(mean, 0.03, 0.05);
  EXPECT_NEAR(std, 0.618, 0.05);
}

}  // namespace
}  // namespace phc::trainers
