#include "daemon/calibration/column_peeling.h"

#include <cmath>
#include <complex>
#include <numbers>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "daemon/calibration/calibration_io.h"
#include "photonsim/mzi.h"
#include "photonsim/mzi_mesh.h"
#include "photonsim/phase.h"

namespace phc::daemon {
namespace {

constexpr double kPi = std::numbers::pi;
using photonsim::kTwoPi;
using photonsim::WrapPhase;
using Complex = std::complex<double>;

// y = a + c cos d + s sin d over equally spaced d: returns (c, s).
std::pair<double, double> FitSine(const std::vector<double>& y) {
  const int n = static_cast<int>(y.size());
  double c = 0.0, s = 0.0;
  for (int p = 0; p < n; ++p) {
    const double d = kTwoPi * p / n;
    c += y[p] * std::cos(d);
    s += y[p] * std::sin(d);
  }
  return {2.0 * c / n, 2.0 * s / n};
}

class Peeler {
 public:
  Peeler(ChipController& controller, const photonsim::CircuitLayout& circuit,
         const std::vector<double>& efficiency,
         const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
         const PeelOptions& options, const std::function<absl::Status()>& check_cancel,
         int* readings)
      : controller_(controller),
        circuit_(circuit),
        eta_(efficiency),
        g_(crosstalk),
        options_(options),
        check_cancel_(check_cancel),
        readings_(readings),
        mesh_(photonsim::MziMesh::Clements(circuit.size)),
        n_(circuit.size),
        m_(mesh_.mzi_count()),
        columns_(n_),
        rng_(options.seed) {
    for (int m = 0; m < m_; ++m) columns_[mesh_.placements()[m].column].push_back(m);
  }

  absl::StatusOr<std::vector<double>> Run() {
    if (absl::Status s = Thetas(); !s.ok()) return s;
    if (absl::Status s = Phis(); !s.ok()) return s;
    std::vector<double> bias(2 * m_);
    for (int m = 0; m < m_; ++m) {
      bias[2 * m] = *theta_[m];
      bias[2 * m + 1] = phi_[m];
    }
    return bias;
  }

 private:
  int top(int m) const { return mesh_.placements()[m].top_mode; }

  // Heater drives (phase each heater adds, in [0, 2 pi)) -> powers, with the
  // design crosstalk fed forward; a heater that would need negative power
  // takes its target one turn higher.
  absl::Status Apply(const std::vector<double>& drive) {
    std::vector<double> target(2 * m_);
    for (int k = 0; k < 2 * m_; ++k) target[k] = WrapPhase(drive[k]) / eta_[k];
    std::vector<double> local;
    for (int round = 0; round < 4; ++round) {
      local = SolveWithCrosstalk(g_, target);
      bool negative = false;
      for (int k = 0; k < 2 * m_; ++k) {
        if (local[k] < 0.0) {
          target[k] += kTwoPi / eta_[k];
          negative = true;
        }
      }
      if (!negative) break;
    }
    std::vector<double> powers(controller_.phase_count(), 0.0);
    for (int k = 0; k < 2 * m_; ++k) {
      powers[circuit_.first_phase + k] = std::max(0.0, local[k]);
    }
    return controller_.SetHeaterPowers(powers);
  }

  absl::StatusOr<Eigen::RowVectorXd> Read(const std::vector<double>& drive,
                                          const Eigen::RowVectorXcd& inputs) {
    if (absl::Status s = check_cancel_(); !s.ok()) return s;
    if (absl::Status s = Apply(drive); !s.ok()) return s;
    if (absl::Status s = SetCircuitInputs(controller_, circuit_, inputs); !s.ok()) return s;
    ++*readings_;
    return ReadFractions(controller_, circuit_, options_.averages);
  }

  // The drive that puts a phase at `phase` given its estimated bias.
  static double DriveFor(double phase, double estimate) { return phase - estimate; }

  // Stage A.
  absl::Status Thetas() {
    theta_.assign(m_, std::nullopt);
    candidate_.assign(m_, 0.0);
    std::uniform_real_distribution<double> turn(0.0, kTwoPi), amplitude(0.5, 1.0);
    const int points = options_.theta_points;
    for (int c = n_ - 1; c >= 0; --c) {
      struct State {
        Eigen::RowVectorXcd inputs;
        std::vector<double> upstream;  // drives of columns < c
      };
      std::vector<State> states;
      if (c == 0) {
        Eigen::RowVectorXcd inputs(n_);
        for (int i = 0; i < n_; ++i) inputs(i) = i % 2 == 0 ? 1.0 : 0.35;
        states.push_back({inputs, std::vector<double>(2 * m_, 0.0)});
      } else {
        for (int s = 0; s < options_.states; ++s) {
          State state{Eigen::RowVectorXcd(n_), std::vector<double>(2 * m_, 0.0)};
          for (int i = 0; i < n_; ++i) state.inputs(i) = amplitude(rng_);
          for (int k = 0; k < 2 * m_; ++k) state.upstream[k] = turn(rng_);
          states.push_back(std::move(state));
        }
      }
      // rows[state][group][point]: averaged fractions.
      std::vector<std::array<std::vector<Eigen::RowVectorXd>, 2>> rows(states.size());
      for (std::size_t si = 0; si < states.size(); ++si) {
        for (int group = 0; group < 2; ++group) {
          for (int p = 0; p < points; ++p) {
            Eigen::RowVectorXd average = Eigen::RowVectorXd::Zero(n_);
            for (double phi_step : {0.0, kPi}) {
              std::vector<double> drive(2 * m_, 0.0);
              for (int col = 0; col < c; ++col) {
                for (int m : columns_[col]) {
                  drive[2 * m] = states[si].upstream[2 * m];
                  drive[2 * m + 1] = states[si].upstream[2 * m + 1];
                }
              }
              for (int m : columns_[c]) drive[2 * m] = 1.0, drive[2 * m + 1] = 0.5;
              for (int col = c + 1; col < n_; ++col) {
                for (int m : columns_[col]) {
                  const double estimate = col == c + 1 ? candidate_[m] : *theta_[m];
                  drive[2 * m] = DriveFor(kPi, estimate);
                }
              }
              for (std::size_t i = group; i < columns_[c].size(); i += 2) {
                const int m = columns_[c][i];
                drive[2 * m] = kTwoPi * p / points;
                drive[2 * m + 1] = phi_step;
              }
              absl::StatusOr<Eigen::RowVectorXd> row = Read(drive, states[si].inputs);
              if (!row.ok()) return row.status();
              average += 0.5 * *row;
            }
            rows[si][group].push_back(average);
          }
        }
      }
      if (c + 1 < n_) ResolveNextColumn(c, rows);
      FitColumn(c, rows);
    }
    return absl::OkStatus();
  }

  // The fringe amplitude of detector k in a sweep.
  static double Amplitude(const std::vector<Eigen::RowVectorXd>& sweep, int k) {
    std::vector<double> y;
    for (const auto& row : sweep) y.push_back(row(k));
    const auto [c, s] = FitSine(y);
    return std::hypot(c, s);
  }

  // Column c+1 was set to its candidate bar: where column c's fringes land
  // says whether it really is bar or cross.
  template <typename Rows>
  void ResolveNextColumn(int c, const Rows& rows) {
    for (int w : columns_[c + 1]) {
      const int t = top(w);
      double votes = 0.0;
      for (const auto& state : rows) {
        for (int group = 0; group < 2; ++group) {
          for (std::size_t i = group; i < columns_[c].size(); i += 2) {
            const int tu = top(columns_[c][i]);
            if (tu + 1 != t && tu != t + 1) continue;  // u does not feed w
            const int mode = tu + 1 == t ? t : t + 1;
            const int other = mode == t ? t + 1 : t;
            votes += Amplitude(state[group], mode) - Amplitude(state[group], other);
          }
        }
      }
      theta_[w] = votes > 0 ? candidate_[w] : WrapPhase(candidate_[w] + kPi);
    }
  }

  // Detector a mode of column c's outputs reaches: through column c+1
  // (now resolved; driven to its candidate bar) and bar beyond.
  int Landing(int c, int mode) const {
    if (c + 1 >= n_) return mode;
    for (int w : columns_[c + 1]) {
      const int t = top(w);
      if (mode != t && mode != t + 1) continue;
      const bool bar = std::abs(WrapPhase(*theta_[w] - candidate_[w])) < 1e-9;
      return bar ? mode : (mode == t ? t + 1 : t);
    }
    return mode;
  }

  template <typename Rows>
  void FitColumn(int c, const Rows& rows) {
    for (int m : columns_[c]) {
      const int t = top(m);
      const int lt = Landing(c, t), lb = Landing(c, t + 1);
      const int group = static_cast<int>(std::find(columns_[c].begin(), columns_[c].end(), m) -
                                         columns_[c].begin()) %
                        2;
      Complex sum = 0.0;
      for (const auto& state : rows) {
        std::vector<double> y;
        for (const auto& row : state[group]) y.push_back(row(lt) - row(lb));
        const auto [cc, ss] = FitSine(y);
        const Complex z(-cc, ss);  // y ~ -(|x|^2 - |y|^2) cos(b + d)
        sum += c == 0 ? z : z * z;
      }
      if (c == 0) {
        theta_[m] = WrapPhase(std::arg(sum));
        candidate_[m] = *theta_[m];
      } else {
        candidate_[m] = WrapPhase(std::arg(sum) / 2.0);
      }
    }
  }

  // Stage B.
  absl::Status Phis() {
    phi_.assign(m_, 0.0);
    const int points = options_.phi_points;
    const Eigen::RowVectorXcd inputs = Eigen::RowVectorXcd::Ones(n_);
    for (int c = 0; c < n_; ++c) {
      for (int group = 0; group < 2; ++group) {
        std::vector<int> members;
        for (std::size_t i = group; i < columns_[c].size(); i += 2) {
          members.push_back(columns_[c][i]);
        }
        if (members.empty()) continue;
        std::vector<double> base(2 * m_, 0.0);
        for (int m = 0; m < m_; ++m) base[2 * m] = DriveFor(kPi, *theta_[m]);
        for (int m : members) base[2 * m] = DriveFor(kPi / 2, *theta_[m]);
        std::vector<Eigen::RowVectorXd> sweep;
        for (int p = 0; p < points; ++p) {
          std::vector<double> drive = base;
          for (int m : members) drive[2 * m + 1] = kTwoPi * p / points;
          absl::StatusOr<Eigen::RowVectorXd> row = Read(drive, inputs);
          if (!row.ok()) return row.status();
          sweep.push_back(*row);
        }
        // The fields arriving at column c in the model of the columns
        // before it (estimated biases, the drives above, ideal couplers).
        std::vector<Complex> field(n_, 1.0);
        for (int m = 0; m < m_ && mesh_.placements()[m].column < c; ++m) {
          const photonsim::Matrix2c t = photonsim::MziMatrix(WrapPhase(*theta_[m] + base[2 * m]),
                                                             WrapPhase(phi_[m] + base[2 * m + 1]));
          const int a = top(m), b = a + 1;
          const Complex x = field[a], y = field[b];
          field[a] = t(0, 0) * x + t(0, 1) * y;
          field[b] = t(1, 0) * x + t(1, 1) * y;
        }
        for (int m : members) {
          const int t = top(m);
          std::vector<double> y;
          for (const auto& row : sweep) y.push_back(row(t) - row(t + 1));
          const auto [cc, ss] = FitSine(y);
          double model[4];
          for (int q = 0; q < 4; ++q) {
            const photonsim::Matrix2c u = photonsim::MziMatrix(kPi / 2, q * kPi / 2);
            const Complex a = u(0, 0) * field[t] + u(0, 1) * field[t + 1];
            const Complex b = u(1, 0) * field[t] + u(1, 1) * field[t + 1];
            model[q] = std::norm(a) - std::norm(b);
          }
          const Complex unit((model[0] - model[2]) / 2, -(model[1] - model[3]) / 2);
          phi_[m] = std::abs(unit) > 0 ? WrapPhase(std::arg(Complex(cc, -ss) / unit)) : 0.0;
        }
      }
    }
    return absl::OkStatus();
  }

  ChipController& controller_;
  const photonsim::CircuitLayout& circuit_;
  const std::vector<double>& eta_;
  const std::vector<std::vector<photonsim::CrosstalkEntry>>& g_;
  PeelOptions options_;
  const std::function<absl::Status()>& check_cancel_;
  int* readings_;
  photonsim::MziMesh mesh_;
  int n_;
  int m_;
  std::vector<std::vector<int>> columns_;
  std::mt19937_64 rng_;
  std::vector<std::optional<double>> theta_;
  std::vector<double> candidate_;
  std::vector<double> phi_;
};

}  // namespace

absl::StatusOr<std::vector<double>> PeelMeshBiases(
    ChipController& controller, const photonsim::CircuitLayout& circuit,
    const std::vector<double>& efficiency,
    const std::vector<std::vector<photonsim::CrosstalkEntry>>& crosstalk,
    const PeelOptions& options, const std::function<absl::Status()>& check_cancel, int* readings) {
  if (circuit.kind != photonsim::CircuitKind::kMesh ||
      circuit.spec.mesh().topology() != photonic::v1::MESH_TOPOLOGY_CLEMENTS) {
    return absl::InvalidArgumentError(
        absl::StrCat("column peeling needs a Clements mesh; ", circuit.name, " is not one"));
  }
  Peeler peeler(controller, circuit, efficiency, crosstalk, options, check_cancel, readings);
  return peeler.Run();
}

}  // namespace phc::daemon
