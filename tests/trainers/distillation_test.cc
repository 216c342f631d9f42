// NTK distillation: the kernel-alignment loss and the whole student's
// gradient (optical frontend + digital backend, alpha CE + beta L_NTK)
// against central differences; the loss is zero when the student's kernel
// is the teacher's.
#include "phc/trainers/diff/distillation.h"

#include <gtest/gtest.h>

#include <random>

namespace phc::trainers::diff {
namespace {

TEST(KernelAlignmentTest, GradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd teacher_features = Eigen::MatrixXd::Random(6, 9);
  const Eigen::MatrixXd teacher = (teacher_features * teacher_features.transpose()).array() + 1.0;
  Eigen::MatrixXd h = Eigen::MatrixXd::Random(6, 4);
  Eigen::MatrixXd analytic;
  KernelAlignmentLoss(teacher, h, &analytic);
  const double step = 1e-6;
  for (Eigen::Index i = 0; i < h.size(); ++i) {
    Eigen::MatrixXd up = h, down = h;
    up(i) += step;
    down(i) -= step;
    const double numeric =
        (KernelAlignmentLoss(teacher, up, nullptr) - KernelAlignmentLoss(teacher, down, nullptr)) /
        (2 * step);
    EXPECT_NEAR(analytic(i), numeric, 1e-7) << "entry " << i;
  }
}

TEST(KernelAlignmentTest, ZeroWhenTheKernelsAgreeUpToScale) {
  const Eigen::MatrixXd h = Eigen::MatrixXd::Random(5, 3);
  const Eigen::MatrixXd k = (h * h.transpose()).array() + 1.0;
  EXPECT_NEAR(KernelAlignmentLoss(3.0 * k, h, nullptr), 0.0, 1e-24);
  EXPECT_GT(KernelAlignmentLoss(Eigen::MatrixXd::Identity(5, 5), h, nullptr), 1e-3);
}

TEST(DistillationTest, StudentGradientMatchesFiniteDifferences) {
  std::mt19937_64 rng(3);
  Network frontend;  // one optical block, no readout
  frontend.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(4)));
  frontend.Add(std::make_unique<DetectLayer>(4));
  std::uniform_real_distribution<double> phase(0.0, 6.283);
  for (double& p : frontend.meshes()[0]->parameters()) p = phase(rng);
  Network backend;
  backend.Add(std::make_unique<DenseLayer>(4, 5, rng));
  backend.Add(std::make_unique<ReluLayer>(5));
  backend.Add(std::make_unique<DenseLayer>(5, 3, rng));
  const Eigen::MatrixXd inputs = Eigen::MatrixXd::Random(6, 4).cwiseAbs();
  const std::vector<int> labels = {0, 1, 2, 2, 1, 0};
  const Eigen::MatrixXd teacher_h = Eigen::MatrixXd::Random(6, 7);
  const Eigen::MatrixXd teacher = (teacher_h * teacher_h.transpose()).array() + 1.0;
  const double alpha = 0.7, beta = 2.0;

  auto total = [&] {
    auto loss = DistillationGradients(frontend, backend, inputs, labels, teacher, alpha, beta,
                                      nullptr, true);
    return alpha * loss->cross_entropy + beta * loss->kernel;
  };
  total();
  Eigen::VectorXd analytic(frontend.parameter_count() + backend.parameter_count());
  analytic << frontend.Gradients(), backend.Gradients();
  const double step = 1e-6;
  int k = 0;
  for (Network* net : {&frontend, &backend}) {
    for (Eigen::Index i = 0; i < net->parameter_count(); ++i, ++k) {
      Eigen::VectorXd p = net->Parameters();
      const double saved = p(i);
      p(i) = saved + step;
      net->SetParameters(p);
      const double up = total();
      p(i) = saved - step;
      net->SetParameters(p);
      const double down = total();
      p(i) = saved;
      net->SetParameters(p);
      EXPECT_NEAR(analytic(k), (up - down) / (2 * step), 1e-6) << "parameter " << k;
    }
  }
}

}  // namespace
}  // namespace phc::trainers::diff
