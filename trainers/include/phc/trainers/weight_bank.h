// Microring weight banks as a DFA feedback device: a `WeightBankDevice`
// seam (over the daemon's ChipController, or anything else that sets ring
// heater powers and reads balanced detectors), its calibration, and
// closed-loop programming of a target weight matrix.
//
// Units. A ring's weight is measured as the balanced photocurrent of its row
// with only its own channel lit at full power, divided by the row's scale
// g_i: the mean over channels of -I with every ring parked at zero heater
// power (far from resonance, through port ~ 1). So weights are about -1 with
// the ring parked and about +1 on resonance, and a row's output I_i / g_i is
// exactly sum_k W_ik p_k for channel powers p_k (fractions of full power):
// wavelengths are incoherent, detection is linear in power.
#pragma once

#include <Eigen/Core>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "photonsim/chip_layout.h"

namespace phc::trainers {

class WeightBankDevice {
 public:
  virtual ~WeightBankDevice() = default;
  virtual int channels() const = 0;
  virtual int rows() const = 0;
  // Every ring's heater power (nominal mW), row-major (rows x channels).
  virtual absl::Status SetRingPowers(std::span<const double> powers_mw) = 0;
  // Balanced photocurrent (uA) per row for channel powers given as
  // fractions of full laser power in [0, 1], averaged `averages` times.
  virtual absl::StatusOr<Eigen::VectorXd> Read(std::span<const double> channel_power_fraction,
                                               int averages) = 0;
};

// The chip's bank when the chip is exactly one microring bank (its phases
// are the rings), else null.
const photonic::v1::MicroringBankCircuit* SingleWeightBank(const photonsim::ChipLayout& layout);

struct BankCalibrationOptions {
  double sweep_max_power_mw = 10.0;  // heater power swept per ring
  int sweep_steps = 200;
  int averages = 8;  // per calibration reading
};

// One ring's weight on its monotone branch: weights[t] at powers_mw[t],
// powers increasing.
struct RingBranch {
  std::vector<double> powers_mw;
  std::vector<double> weights;
  double min_weight() const;
  double max_weight() const;
  // The power giving weight w (clamped to the branch), linear interpolation.
  double PowerFor(double weight) const;
};

struct BankCalibration {
  int channels = 0;
  int rows = 0;
  Eigen::VectorXd row_scale_ua;   // g_i
  std::vector<RingBranch> rings;  // row-major
  int readings = 0;
};

using BankProgress = std::function<void(double fraction)>;

absl::StatusOr<BankCalibration> CalibrateWeightBank(WeightBankDevice& device,
                                                    const BankCalibrationOptions& options,
                                                    const BankProgress& progress = {});

// Every ring's weight (rows x channels), one reading per channel.
absl::StatusOr<Eigen::MatrixXd> MeasureWeights(WeightBankDevice& device,
                                               const BankCalibration& calibration, int averages);

struct ProgramReport {
  Eigen::MatrixXd achieved;  // last measured weights
  double rms_error = 0.0;
  double max_error = 0.0;
  int iterations = 0;
  std::vector<double> powers_mw;
};

// Sets the rings to `targets` (rows x channels): open loop from each ring's
// branch, then `iterations` rounds of measure-and-correct, each estimating
// every ring's thermal crosstalk from its measured weight, which also absorb
// inter-channel crosstalk.
absl::StatusOr<ProgramReport> ProgramWeights(WeightBankDevice& device,
                                             const BankCalibration& calibration,
                                             const Eigen::MatrixXd& targets, int iterations,
                                             int averages);

// Row outputs sum_k W_ik x_k for a signed input vector x (|x_k| <= 1 after
// scaling by max|x|): two readings, one for the positive and one for the
// negative part, each encoded as channel powers.
absl::StatusOr<Eigen::VectorXd> MultiplySigned(WeightBankDevice& device,
                                               const BankCalibration& calibration,
                                               std::span<const double> x);

}  // namespace phc::trainers
