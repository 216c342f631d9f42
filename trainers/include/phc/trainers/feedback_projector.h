// Where DFA's feedback products B_l e are computed: exactly (digital), with
// the Gaussian error model of Filipovich et al. (Optica 2022, code
// Shastri-Lab/dfa_optica_paper), or on microring weight banks.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/weight_bank.h"

namespace phc::trainers {

// B_l ~ U[-1, 1), one (width_l x classes) matrix per hidden layer, fixed.
std::vector<Eigen::MatrixXf> MakeFeedbackMatrices(std::span<const int> hidden_widths, int classes,
                                                  std::uint64_t seed);

class FeedbackProjector {
 public:
  virtual ~FeedbackProjector() = default;
  virtual std::string name() const = 0;
  // B_l e for every hidden layer (width_l x batch), e is (classes x batch).
  virtual absl::StatusOr<std::vector<Eigen::MatrixXf>> Project(const Eigen::MatrixXf& error) = 0;
  // Random projectors draw a step's noise from (seed, step) only.
  virtual void BeginStep(std::uint64_t /*seed*/, std::int64_t /*step*/) {}
};

class DigitalProjector final : public FeedbackProjector {
 public:
  explicit DigitalProjector(std::vector<Eigen::MatrixXf> feedback)
      : feedback_(std::move(feedback)) {}
  std::string name() const override { return "digital"; }
  absl::StatusOr<std::vector<Eigen::MatrixXf>> Project(const Eigen::MatrixXf& error) override;

 private:
  std::vector<Eigen::MatrixXf> feedback_;
};

// The paper's model of its measured inner products: every element of B e
// gets max|e| * N(mean, std), max over the whole batch (as their code does).
class GaussianNoiseProjector final : public FeedbackProjector {
 public:
  GaussianNoiseProjector(std::vector<Eigen::MatrixXf> feedback, double mean, double std,
                         std::uint64_t seed)
      : feedback_(std::move(feedback)), noise_(mean, std), rng_(seed) {}
  std::string name() const override { return "noise_model"; }
  absl::StatusOr<std::vector<Eigen::MatrixXf>> Project(const Eigen::MatrixXf& error) override;
  void BeginStep(std::uint64_t seed, std::int64_t step) override;

 private:
  std::vector<Eigen::MatrixXf> feedback_;
  std::normal_distribution<double> noise_;
  std::mt19937_64 rng_;
};

// B (all hidden layers stacked, scaled by `weight_scale` into the rings'
// range) programmed once into the bank's rows; every sample's error vector
// is sent on the WDM channels and read from the balanced detectors.
class MicroringProjector final : public FeedbackProjector {
 public:
  // REQUIRES: the device has sum(width_l) rows and `classes` channels, and
  // `calibration` and the programmed state are the device's.
  MicroringProjector(std::vector<Eigen::MatrixXf> feedback, double weight_scale,
                     WeightBankDevice& device, BankCalibration calibration)
      : feedback_(std::move(feedback)),
        weight_scale_(weight_scale),
        device_(device),
        calibration_(std::move(calibration)) {}
  std::string name() const override { return "microring"; }
  absl::StatusOr<std::vector<Eigen::MatrixXf>> Project(const Eigen::MatrixXf& error) override;

  // Stacked targets for the bank: weight_scale * [B_1; B_2; ...].
  static Eigen::MatrixXd BankTargets(std::span<const Eigen::MatrixXf> feedback,
                                     double weight_scale);

 private:
  std::vector<Eigen::MatrixXf> feedback_;
  double weight_scale_;
  WeightBankDevice& device_;
  BankCalibration calibration_;
};

// The normalised DFA signal: B_l e / sqrt(width_l), as in the reference code.
std::vector<Eigen::MatrixXf> NormaliseFeedback(std::vector<Eigen::MatrixXf> products);

}  // namespace phc::trainers
