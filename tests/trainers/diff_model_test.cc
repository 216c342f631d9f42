// The differentiable ONN model: every analytic gradient against central
// finite differences, and the mesh layer's transfer matrix against
// photonsim's MziMesh (same phases, same coupler errors and losses).
#include <gtest/gtest.h>

#include <random>

#include "phc/trainers/diff/in_situ.h"
#include "phc/trainers/diff/layers.h"
#include "phc/trainers/diff/network.h"
#include "photonsim/mzi_mesh.h"

namespace phc::trainers::diff {
namespace {

MeshErrors RandomErrors(const photonsim::MziMesh& mesh, std::mt19937_64& rng) {
  std::normal_distribution<double> gauss(0.0, 0.05);
  std::uniform_real_distribution<double> loss(0.9, 1.0);
  MeshErrors errors;
  for (int k = 0; k < 2 * mesh.mzi_count(); ++k) errors.splitting_rad.push_back(gauss(rng));
  for (int k = 0; k < mesh.mzi_count(); ++k) errors.transmission.push_back(loss(rng));
  for (int k = 0; k < mesh.phase_count(); ++k) errors.phase_offset_rad.push_back(gauss(rng));
  return errors;
}

void RandomPhases(MeshLayer& mesh, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> phase(0.0, 6.283);
  for (double& p : mesh.parameters()) p = phase(rng);
}

TEST(MeshLayerTest, TransferMatrixMatchesPhotonsimWithTheSameErrors) {
  std::mt19937_64 rng(3);
  MeshLayer layer(photonsim::MziMesh::Clements(6));
  RandomPhases(layer, rng);
  MeshErrors errors = RandomErrors(layer.topology(), rng);
  errors.phase_offset_rad.clear();  // photonsim has no separate offsets
  layer.SetErrors(errors);
  photonsim::MziMesh reference = photonsim::MziMesh::Clements(6);
  reference.SetImperfections(errors.splitting_rad, errors.transmission);
  std::vector<double> phases(layer.parameters().begin(), layer.parameters().end());
  reference.SetPhases(phases);
  EXPECT_LT((layer.TransferMatrix() - reference.TransferMatrix()).cwiseAbs().maxCoeff(), 1e-12);
}

TEST(MeshLayerTest, IdealMeshIsUnitary) {
  std::mt19937_64 rng(4);
  MeshLayer layer(photonsim::MziMesh::Clements(8));
  RandomPhases(layer, rng);
  const MatrixXc u = layer.TransferMatrix();
  EXPECT_LT((u.adjoint() * u - MatrixXc::Identity(8, 8)).cwiseAbs().maxCoeff(), 1e-12);
}

// A network with every layer kind: mesh (with errors) -> error prediction
// -> detect -> re-encode
// -> mesh -> detect -> dense -> relu -> dense. Central differences with
// step h have error O(h^2 f'''); h = 1e-5 gives ~1e-9 here, so analytic and
// numeric gradients must agree to 1e-6 relative to the largest.
TEST(NetworkGradientTest, EveryAnalyticGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(7);
  Network net;
  auto& first = static_cast<MeshLayer&>(
      net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(4))));
  Layer& sepn = net.Add(std::make_unique<ErrorPredictionLayer>(4));
  for (double& p : sepn.parameters()) p = std::normal_distribution<double>(0.0, 0.1)(rng);
  net.Add(std::make_unique<DetectLayer>(4, 2.0));
  net.Add(std::make_unique<ReencodeLayer>(4));
  auto& second = static_cast<MeshLayer&>(
      net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(4))));
  net.Add(std::make_unique<DetectLayer>(4));
  net.Add(std::make_unique<DenseLayer>(4, 5, rng));
  net.Add(std::make_unique<ReluLayer>(5));
  net.Add(std::make_unique<DenseLayer>(5, 3, rng));
  RandomPhases(first, rng);
  RandomPhases(second, rng);
  first.SetErrors(RandomErrors(first.topology(), rng));
  second.SetErrors(RandomErrors(second.topology(), rng));

  Eigen::MatrixXd features = (Eigen::MatrixXd::Random(6, 4).array() * 0.5 + 0.5).matrix();
  const std::vector<int> labels = {0, 1, 2, 1, 0, 2};
  net.LossAndGradients(features, labels);
  const Eigen::VectorXd analytic = net.Gradients();
  Eigen::VectorXd params = net.Parameters();
  ASSERT_EQ(analytic.size(), 2 * 12 + 2 * 16 + (4 * 5 + 5) + (5 * 3 + 3));

  const double h = 1e-5;
  Eigen::VectorXd numeric(params.size());
  for (Eigen::Index k = 0; k < params.size(); ++k) {
    Eigen::VectorXd plus = params, minus = params;
    plus(k) += h;
    minus(k) -= h;
    net.SetParameters(plus);
    const double up = net.LossAndGradients(features, labels);
    net.SetParameters(minus);
    const double down = net.LossAndGradients(features, labels);
    numeric(k) = (up - down) / (2 * h);
  }
  const double scale = analytic.cwiseAbs().maxCoeff();
  ASSERT_GT(scale, 1e-3) << "gradients too small to test";
  for (Eigen::Index k = 0; k < params.size(); ++k) {
    EXPECT_NEAR(analytic(k), numeric(k), 1e-6 * scale) << "parameter " << k;
  }
}

Network TwoBlockNetwork(std::mt19937_64& rng) {
  Network net;
  net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(4)));
  net.Add(std::make_unique<DetectLayer>(4));
  net.Add(std::make_unique<ReencodeLayer>(4));
  net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(4)));
  net.Add(std::make_unique<DetectLayer>(4));
  net.Add(std::make_unique<DenseLayer>(4, 3, rng));
  for (MeshLayer* mesh : net.meshes()) RandomPhases(*mesh, rng);
  return net;
}

TEST(NetworkMeasuredTest, AnIdenticalPhysicalSystemGivesTheModelsLogitsAndGradients) {
  std::mt19937_64 rng(12), twin_rng(12);
  Network model = TwoBlockNetwork(rng);
  Network twin = TwoBlockNetwork(twin_rng);
  NetworkMeasurer physical(twin);
  const Eigen::MatrixXd features = (Eigen::MatrixXd::Random(5, 4).array().abs()).matrix();
  const std::vector<int> labels = {0, 1, 2, 0, 1};
  const double loss = model.LossAndGradients(features, labels);
  const Eigen::VectorXd gradient = model.Gradients();
  absl::StatusOr<double> measured_loss = model.LossAndGradientsMeasured(features, labels, physical);
  ASSERT_TRUE(measured_loss.ok());
  EXPECT_NEAR(*measured_loss, loss, 1e-12);
  EXPECT_LT((model.Gradients() - gradient).cwiseAbs().maxCoeff(), 1e-12);

  // A physical system with coupler errors: the logits are the physical ones.
  for (MeshLayer* mesh : twin.meshes()) mesh->SetErrors(RandomErrors(mesh->topology(), rng));
  std::vector<MatrixXc> inputs;
  std::vector<Eigen::MatrixXd> measured;
  absl::StatusOr<Eigen::MatrixXd> logits =
      model.ForwardMeasured(features, physical, &inputs, &measured);
  ASSERT_TRUE(logits.ok());
  ASSERT_EQ(measured.size(), 2u);
  for (MeshLayer* mesh : twin.meshes()) {
    const auto& source = model.meshes()[mesh == twin.meshes()[0] ? 0 : 1]->parameters();
    std::copy(source.begin(), source.end(), mesh->parameters().begin());
  }
  EXPECT_LT((*logits - twin.Forward(features)).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_GT((*logits - model.Forward(features)).cwiseAbs().maxCoeff(), 1e-4);
}

TEST(NetworkGradientTest, PhaseNoiseGradientIsTheGradientAtTheNoisyPhases) {
  // With noise, Backward must use the phases Forward used: the gradient
  // equals the noiseless gradient at those phases.
  std::mt19937_64 rng(9), noise_rng(10), replay_rng(10);
  MeshLayer noisy(photonsim::MziMesh::Clements(4));
  RandomPhases(noisy, rng);
  MeshLayer replay = noisy;
  noisy.SetPhaseNoise(0.1, &noise_rng);
  const MatrixXc x = MatrixXc::Random(3, 4);
  const MatrixXc delta = MatrixXc::Random(3, 4);
  noisy.ZeroGradients();
  noisy.Forward(x);
  noisy.Backward(delta);
  std::normal_distribution<double> gauss(0.0, 0.1);
  for (double& p : replay.parameters()) p += gauss(replay_rng);
  replay.ZeroGradients();
  replay.Forward(x);
  replay.Backward(delta);
  for (int k = 0; k < noisy.phase_count(); ++k) {
    EXPECT_NEAR(noisy.gradients()[k], replay.gradients()[k], 1e-12);
  }
}

TEST(AdamTest, MinimisesAQuadratic) {
  Adam adam(2, 0.1);
  Eigen::VectorXd x(2);
  x << 3.0, -2.0;
  for (int step = 0; step < 500; ++step) {
    const Eigen::VectorXd gradient = 2.0 * (x - Eigen::Vector2d(1.0, 0.5));
    adam.Step(x, gradient);
  }
  EXPECT_NEAR(x(0), 1.0, 1e-3);
  EXPECT_NEAR(x(1), 0.5, 1e-3);
}

}  // namespace
}  // namespace phc::trainers::diff
