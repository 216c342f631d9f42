#include "phc/trainers/diff/layers.h"

#include <cmath>
#include <cstdlib>

#include "phc/base/check.h"
#include "photonsim/mzi.h"

namespace phc::trainers::diff {

using photonsim::Matrix2c;

// --- MeshLayer ---

MeshLayer::MeshLayer(photonsim::MziMesh topology)
    : topology_(std::move(topology)),
      phases_(topology_.phase_count(), 0.0),
      gradients_(topology_.phase_count(), 0.0) {
  // Forward keeps one field snapshot per column: MZIs must come in column order.
  for (int m = 1; m < topology_.mzi_count(); ++m) {
    if (topology_.placements()[m].column < topology_.placements()[m - 1].column) std::abort();
  }
}

void MeshLayer::SetErrors(MeshErrors errors) {
  PHC_CHECK(errors.splitting_rad.empty() ||
            static_cast<int>(errors.splitting_rad.size()) == 2 * topology_.mzi_count());
  PHC_CHECK(errors.transmission.empty() ||
            static_cast<int>(errors.transmission.size()) == topology_.mzi_count());
  PHC_CHECK(errors.phase_offset_rad.empty() ||
            static_cast<int>(errors.phase_offset_rad.size()) == phase_count());
  errors_ = std::move(errors);
}

void MeshLayer::SetPhaseNoise(double std_rad, std::mt19937_64* rng) {
  noise_std_rad_ = std_rad;
  rng_ = rng;
}

MeshLayer::MziMatrices MeshLayer::Matrices(int m, double theta, double phi) const {
  const double in_error = errors_.splitting_rad.empty() ? 0.0 : errors_.splitting_rad[2 * m];
  const double out_error = errors_.splitting_rad.empty() ? 0.0 : errors_.splitting_rad[2 * m + 1];
  const double a = errors_.transmission.empty() ? 1.0 : errors_.transmission[m];
  const Matrix2c c_in = photonsim::CouplerMatrix(in_error);
  const Matrix2c c_out = photonsim::CouplerMatrix(out_error);
  const Matrix2c p_theta = photonsim::TopPhaseMatrix(theta);
  const Matrix2c p_phi = photonsim::TopPhaseMatrix(phi);
  Matrix2c dp_theta = Matrix2c::Zero();
  dp_theta(0, 0) = Complex(0.0, 1.0) * p_theta(0, 0);
  Matrix2c dp_phi = Matrix2c::Zero();
  dp_phi(0, 0) = Complex(0.0, 1.0) * p_phi(0, 0);
  const Matrix2c inner = c_in * p_phi;
  return {.t = a * c_out * p_theta * inner,
          .dt_dtheta = a * c_out * dp_theta * inner,
          .dt_dphi = a * c_out * p_theta * c_in * dp_phi};
}

MatrixXc MeshLayer::Forward(const MatrixXc& x) {
  PHC_CHECK(x.cols() == in_width());
  used_phases_ = phases_;
  std::normal_distribution<double> noise(0.0, noise_std_rad_ > 0.0 ? noise_std_rad_ : 1.0);
  for (int k = 0; k < phase_count(); ++k) {
    if (!errors_.phase_offset_rad.empty()) used_phases_[k] += errors_.phase_offset_rad[k];
    if (noise_std_rad_ > 0.0 && rng_ != nullptr) used_phases_[k] += noise(*rng_);
  }
  MatrixXc fields = x;
  column_inputs_.assign(topology_.column_count(), MatrixXc());
  int current = -1;
  for (int m = 0; m < topology_.mzi_count(); ++m) {
    const photonsim::MziPlacement& place = topology_.placements()[m];
    if (place.column != current) {
      column_inputs_[place.column] = fields;
      current = place.column;
    }
    const Matrix2c t = Matrices(m, used_phases_[2 * m], used_phases_[2 * m + 1]).t;
    const Eigen::VectorXcd top = fields.col(place.top_mode);
    const Eigen::VectorXcd bottom = fields.col(place.bottom_mode);
    fields.col(place.top_mode) = t(0, 0) * top + t(0, 1) * bottom;
    fields.col(place.bottom_mode) = t(1, 0) * top + t(1, 1) * bottom;
  }
  return fields;
}

MatrixXc MeshLayer::Backward(const MatrixXc& delta_out) {
  MatrixXc delta = delta_out;
  for (int m = topology_.mzi_count() - 1; m >= 0; --m) {
    const photonsim::MziPlacement& place = topology_.placements()[m];
    const MatrixXc& in = column_inputs_[place.column];
    const MziMatrices mats = Matrices(m, used_phases_[2 * m], used_phases_[2 * m + 1]);
    const Eigen::VectorXcd z_top = in.col(place.top_mode);
    const Eigen::VectorXcd z_bottom = in.col(place.bottom_mode);
    const Eigen::VectorXcd d_top = delta.col(place.top_mode);
    const Eigen::VectorXcd d_bottom = delta.col(place.bottom_mode);
    auto parameter_gradient = [&](const Matrix2c& dt) {
      const Eigen::VectorXcd top = dt(0, 0) * z_top + dt(0, 1) * z_bottom;
      const Eigen::VectorXcd bottom = dt(1, 0) * z_top + dt(1, 1) * z_bottom;
      return (d_top.conjugate().cwiseProduct(top) + d_bottom.conjugate().cwiseProduct(bottom))
          .sum()
          .real();
    };
    gradients_[2 * m] += parameter_gradient(mats.dt_dtheta);
    gradients_[2 * m + 1] += parameter_gradient(mats.dt_dphi);
    const Matrix2c& t = mats.t;
    delta.col(place.top_mode) = std::conj(t(0, 0)) * d_top + std::conj(t(1, 0)) * d_bottom;
    delta.col(place.bottom_mode) = std::conj(t(0, 1)) * d_top + std::conj(t(1, 1)) * d_bottom;
  }
  return delta;
}

MatrixXc MeshLayer::TransferMatrix() const {
  MeshLayer copy = *this;
  copy.noise_std_rad_ = 0.0;
  return copy.Forward(MatrixXc::Identity(in_width(), in_width())).transpose();
}

// --- DetectLayer ---

MatrixXc DetectLayer::Forward(const MatrixXc& x) {
  input_ = x;
  return (scale_ * x.cwiseAbs2()).cast<Complex>();
}

MatrixXc DetectLayer::Backward(const MatrixXc& delta_out) {
  // p = s |z|^2: dp = 2 s Re(conj(z) dz), so delta_in = 2 s z dL/dp.
  return 2.0 * scale_ * input_.cwiseProduct(delta_out.real().cast<Complex>());
}

// --- ReencodeLayer ---

namespace {
constexpr double kReencodeEps = 1e-6;
constexpr double kTinyPower = 1e-12;
}  // namespace

MatrixXc ReencodeLayer::Forward(const MatrixXc& x) {
  input_ = x.real();
  const Eigen::Index batch = input_.rows();
  row_max_.resize(batch);
  argmax_.resize(batch);
  Eigen::MatrixXd a(batch, width_);
  for (Eigen::Index b = 0; b < batch; ++b) {
    Eigen::Index k = 0;
    const double m = input_.row(b).maxCoeff(&k);
    argmax_(b) = static_cast<int>(k);
    row_max_(b) = std::max(m, kTinyPower);
    for (int j = 0; j < width_; ++j) {
      a(b, j) = std::sqrt(std::max(input_(b, j), 0.0) / row_max_(b) + kReencodeEps);
    }
  }
  return a.cast<Complex>();
}

MatrixXc ReencodeLayer::Backward(const MatrixXc& delta_out) {
  const Eigen::Index batch = input_.rows();
  Eigen::MatrixXd delta_in = Eigen::MatrixXd::Zero(batch, width_);
  for (Eigen::Index b = 0; b < batch; ++b) {
    const double m = row_max_(b);
    double through_max = 0.0;
    for (int j = 0; j < width_; ++j) {
      if (input_(b, j) < 0.0) continue;  // clipped: no gradient
      const double a = std::sqrt(input_(b, j) / m + kReencodeEps);
      const double g_q = delta_out(b, j).real() / (2.0 * a);  // dL/dq_j, q = p / max p
      delta_in(b, j) += g_q / m;
      through_max -= g_q * input_(b, j) / (m * m);
    }
    if (input_(b, argmax_(b)) > kTinyPower) delta_in(b, argmax_(b)) += through_max;
  }
  return delta_in.cast<Complex>();
}

// --- DenseLayer ---

DenseLayer::DenseLayer(int in, int out, std::mt19937_64& rng)
    : in_(in), out_(out), params_(in * out + out, 0.0), gradients_(in * out + out, 0.0) {
  const double limit = std::sqrt(6.0 / (in + out));
  std::uniform_real_distribution<double> uniform(-limit, limit);
  for (int k = 0; k < in * out; ++k) params_[k] = uniform(rng);
}

MatrixXc DenseLayer::Forward(const MatrixXc& x) {
  input_ = x.real();
  const Eigen::Map<const Eigen::VectorXd> b(params_.data() + in_ * out_, out_);
  Eigen::MatrixXd y = input_ * W().transpose();
  y.rowwise() += b.transpose();
  return y.cast<Complex>();
}

MatrixXc DenseLayer::Backward(const MatrixXc& delta_out) {
  const Eigen::MatrixXd d = delta_out.real();
  Eigen::Map<Eigen::MatrixXd> gW(gradients_.data(), out_, in_);
  Eigen::Map<Eigen::VectorXd> gb(gradients_.data() + in_ * out_, out_);
  gW += d.transpose() * input_;
  gb += d.colwise().sum().transpose();
  return (d * W()).cast<Complex>();
}

// --- ReluLayer ---

MatrixXc ReluLayer::Forward(const MatrixXc& x) {
  input_ = x.real();
  return input_.cwiseMax(0.0).cast<Complex>();
}

MatrixXc ReluLayer::Backward(const MatrixXc& delta_out) {
  return delta_out.real()
      .cwiseProduct((input_.array() > 0.0).cast<double>().matrix())
      .cast<Complex>();
}

// --- ErrorPredictionLayer ---

MatrixXc ErrorPredictionLayer::Matrix() const {
  const int n = width_ * width_;
  MatrixXc a(width_, width_);
  for (int k = 0; k < n; ++k) a(k % width_, k / width_) = Complex(params_[k], params_[n + k]);
  return a;
}

MatrixXc ErrorPredictionLayer::Forward(const MatrixXc& x) {
  input_ = x;
  if (!enabled_) return x;
  return x + x * Matrix().transpose();  // rows are samples: z^T (I + A)^T
}

MatrixXc ErrorPredictionLayer::Backward(const MatrixXc& delta_out) {
  if (!enabled_) return delta_out;
  // z_out = z + A z: delta_in = delta + A^H delta; dL/dRe A_ij = Re(conj(d_i) z_j),
  // dL/dIm A_ij = -Im(conj(d_i) z_j), summed over the batch.
  const MatrixXc outer = delta_out.adjoint() * input_;  // (i, j): sum_b conj(d_bi) z_bj
  const int n = width_ * width_;
  for (int k = 0; k < n; ++k) {
    const Complex c = outer(k % width_, k / width_);
    gradients_[k] += c.real();
    gradients_[n + k] -= c.imag();
  }
  return delta_out + delta_out * Matrix().conjugate();  // rows: d^T + d^T conj(A) = (A^H d)^T
}

// --- loss ---

double SoftmaxCrossEntropy(const Eigen::MatrixXd& logits, std::span<const int> labels,
                           Eigen::MatrixXd* gradient) {
  const Eigen::Index batch = logits.rows();
  double loss = 0.0;
  if (gradient) gradient->resize(logits.rows(), logits.cols());
  for (Eigen::Index b = 0; b < batch; ++b) {
    const double top = logits.row(b).maxCoeff();
    const Eigen::RowVectorXd e = (logits.row(b).array() - top).exp();
    const double sum = e.sum();
    loss += std::log(sum) - (logits(b, labels[b]) - top);
    if (gradient) {
      gradient->row(b) = e / sum;
      (*gradient)(b, labels[b]) -= 1.0;
    }
  }
  if (gradient) *gradient /= static_cast<double>(batch);
  return loss / static_cast<double>(batch);
}

}  // namespace phc::trainers::diff
