#include "phc/trainers/feedback_projector.h"

#include <cmath>

#include "phc/trainers/step_random.h"

namespace phc::trainers {

std::vector<Eigen::MatrixXf> MakeFeedbackMatrices(std::span<const int> hidden_widths, int classes,
                                                  std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<Eigen::MatrixXf> feedback;
  for (int width : hidden_widths) {
    Eigen::MatrixXf b(width, classes);
    for (float& v : b.reshaped()) v = uniform(rng);
    feedback.push_back(std::move(b));
  }
  return feedback;
}

absl::StatusOr<std::vector<Eigen::MatrixXf>> DigitalProjector::Project(
    const Eigen::MatrixXf& error) {
  std::vector<Eigen::MatrixXf> out;
  for (const Eigen::MatrixXf& b : feedback_) out.push_back(b * error);
  return out;
}

absl::StatusOr<std::vector<Eigen::MatrixXf>> GaussianNoiseProjector::Project(
    const Eigen::MatrixXf& error) {
  const float scale = error.cwiseAbs().maxCoeff();
  std::vector<Eigen::MatrixXf> out;
  for (const Eigen::MatrixXf& b : feedback_) {
    Eigen::MatrixXf product = b * error;
    if (noise_.stddev() > 0.0 || noise_.mean() != 0.0) {
      for (float& v : product.reshaped()) v += scale * static_cast<float>(noise_(rng_));
    }
    out.push_back(std::move(product));
  }
  return out;
}

void GaussianNoiseProjector::BeginStep(std::uint64_t seed, std::int64_t step) {
  rng_ = StepRandom(seed ^ 0x6e6f697365ULL, step);  // "noise": not the batch's stream
  noise_.reset();
}

Eigen::MatrixXd MicroringProjector::BankTargets(std::span<const Eigen::MatrixXf> feedback,
                                                double weight_scale) {
  Eigen::Index rows = 0;
  for (const Eigen::MatrixXf& b : feedback) rows += b.rows();
  Eigen::MatrixXd targets(rows, feedback.front().cols());
  Eigen::Index at = 0;
  for (const Eigen::MatrixXf& b : feedback) {
    targets.middleRows(at, b.rows()) = weight_scale * b.cast<double>();
    at += b.rows();
  }
  return targets;
}

absl::StatusOr<std::vector<Eigen::MatrixXf>> MicroringProjector::Project(
    const Eigen::MatrixXf& error) {
  std::vector<Eigen::MatrixXf> out;
  for (const Eigen::MatrixXf& b : feedback_) out.emplace_back(b.rows(), error.cols());
  Eigen::VectorXd sample(error.rows());
  for (Eigen::Index s = 0; s < error.cols(); ++s) {
    sample = error.col(s).cast<double>();
    absl::StatusOr<Eigen::VectorXd> rows = MultiplySigned(
        device_, calibration_, std::span<const double>(sample.data(), sample.size()));
    if (!rows.ok()) return rows.status();
    Eigen::Index at = 0;
    for (Eigen::MatrixXf& o : out) {
      o.col(s) = (rows->segment(at, o.rows()) / weight_scale_).cast<float>();
      at += o.rows();
    }
  }
  return out;
}

std::vector<Eigen::MatrixXf> NormaliseFeedback(std::vector<Eigen::MatrixXf> products) {
  for (Eigen::MatrixXf& p : products) p /= std::sqrt(static_cast<float>(p.rows()));
  return products;
}

}  // namespace phc::trainers
