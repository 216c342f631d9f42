#include "phc/trainers/diff/mpnn.h"

#include <cmath>
#include <numbers>
#include <random>

#include "phc/base/check.h"

namespace phc::trainers::diff {

MatrixXc ComplexInputLayer::Forward(const MatrixXc& x) {
  PHC_CHECK(x.cols() == 2 * width_);
  MatrixXc y(x.rows(), width_);
  y.real() = x.leftCols(width_).real();
  y.imag() = x.rightCols(width_).real();
  return y;
}

MatrixXc ComplexInputLayer::Backward(const MatrixXc& delta_out) {
  // dL/dRe x_k = Re delta_k, dL/dIm x_k = Im delta_k; the features are real.
  MatrixXc delta_in = MatrixXc::Zero(delta_out.rows(), 2 * width_);
  delta_in.leftCols(width_).real() = delta_out.real();
  delta_in.rightCols(width_).real() = delta_out.imag();
  return delta_in;
}

MatrixXc ElectroOpticLayer::Forward(const MatrixXc& x) {
  input_ = x;
  const double amplitude = std::sqrt(1.0 - spec_.alpha);
  MatrixXc y(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double u = 0.5 * spec_.gain * std::norm(x.data()[i]) + 0.5 * spec_.bias_rad;
    y.data()[i] = amplitude * std::cos(u) * std::polar(1.0, -u) * x.data()[i];
  }
  return y;
}

MatrixXc ElectroOpticLayer::Backward(const MatrixXc& delta_out) {
  // y = c(s) x with s = |x|^2: delta_x = conj(c) delta_y + 2 Re(conj(delta_y)
  // x c'(s)) x, where c'(s) = sqrt(1 - alpha) (g / 2) (-i) e^{-2iu}.
  const double amplitude = std::sqrt(1.0 - spec_.alpha);
  MatrixXc delta_in(delta_out.rows(), delta_out.cols());
  for (Eigen::Index i = 0; i < delta_out.size(); ++i) {
    const Complex x = input_.data()[i];
    const double u = 0.5 * spec_.gain * std::norm(x) + 0.5 * spec_.bias_rad;
    const Complex c = amplitude * std::cos(u) * std::polar(1.0, -u);
    const Complex dc_ds =
        amplitude * 0.5 * spec_.gain * Complex(0.0, -1.0) * std::polar(1.0, -2 * u);
    const Complex d = delta_out.data()[i];
    delta_in.data()[i] = std::conj(c) * d + 2.0 * std::real(std::conj(d) * x * dc_ds) * x;
  }
  return delta_in;
}

MatrixXc NormalisedReadoutLayer::Forward(const MatrixXc& x) {
  PHC_CHECK(x.cols() == width_);
  const Eigen::MatrixXd p = x.real();
  norm_ = p.rowwise().norm().cwiseMax(1e-300);
  normalised_ = norm_.cwiseInverse().asDiagonal() * p;
  return normalised_.leftCols(keep_).cast<Complex>();
}

MatrixXc NormalisedReadoutLayer::Backward(const MatrixXc& delta_out) {
  // y = p / |p|: dL/dp = (d - y (y . d)) / |p|, d the logits' gradient
  // padded with zeros for the modes not read.
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(delta_out.rows(), width_);
  d.leftCols(keep_) = delta_out.real();
  const Eigen::VectorXd projection = normalised_.cwiseProduct(d).rowwise().sum();
  const Eigen::MatrixXd delta_in =
      norm_.cwiseInverse().asDiagonal() * (d - projection.asDiagonal() * normalised_);
  return delta_in.cast<Complex>();
}

Network BuildMpnn(const MpnnSpec& spec) {
  PHC_CHECK(spec.modes >= 2 && spec.meshes >= 1 && spec.classes >= 2);
  std::mt19937_64 rng(spec.seed);
  Network net;
  if (spec.complex_inputs) net.Add(std::make_unique<ComplexInputLayer>(spec.modes));
  for (int m = 0; m < spec.meshes; ++m) {
    net.Add(std::make_unique<MeshLayer>(photonsim::MziMesh::Clements(spec.modes)));
    if (spec.predictions) net.Add(MakePrediction(spec.prediction_kind, spec.modes, rng));
    if (spec.activation && m + 1 < spec.meshes) {
      net.Add(std::make_unique<ElectroOpticLayer>(spec.modes, spec.electro_optic));
    }
  }
  net.Add(std::make_unique<DetectLayer>(spec.modes));
  if (spec.digital_readout) {
    net.Add(std::make_unique<DenseLayer>(spec.modes, spec.classes, rng));
  } else {
    PHC_CHECK(spec.classes <= spec.modes);
    net.Add(std::make_unique<NormalisedReadoutLayer>(spec.modes, spec.classes));
  }
  std::uniform_real_distribution<double> phase(0.0, 2.0 * std::numbers::pi);
  for (MeshLayer* mesh : net.meshes()) {
    for (double& p : mesh->parameters()) p = phase(rng);
  }
  return net;
}

Dataset CentredFourierFeatures(const ImageSet& images, int side, int classes) {
  PHC_CHECK(side % 2 == 0 && side <= images.rows && side <= images.cols);
  const int rows = images.rows, cols = images.cols;
  // Frequencies -side/2 .. side/2 - 1: the centre of the fftshifted spectrum.
  Eigen::MatrixXcd row_basis(side, rows), col_basis(cols, side);
  for (int k = 0; k < side; ++k) {
    const int frequency = k - side / 2;
    for (int r = 0; r < rows; ++r) {
      row_basis(k, r) = std::polar(1.0, -2.0 * std::numbers::pi * frequency * r / rows);
    }
    for (int c = 0; c < cols; ++c) {
      col_basis(c, k) = std::polar(1.0, -2.0 * std::numbers::pi * frequency * c / cols);
    }
  }
  const int count = side * side;
  Dataset data;
  data.classes = classes;
  data.labels = images.labels;
  data.features.resize(images.pixels.rows(), 2 * count);
  for (Eigen::Index s = 0; s < images.pixels.rows(); ++s) {
    const Eigen::RowVectorXd pixels = images.pixels.row(s) / 255.0;
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
        image(pixels.data(), rows, cols);
    const Eigen::MatrixXcd spectrum = row_basis * image.cast<Complex>() * col_basis;
    const double mean_modulus = spectrum.cwiseAbs().mean();
    const double scale = mean_modulus > 0.0 ? 1.0 / mean_modulus : 1.0;
    for (int k = 0; k < count; ++k) {
      const Complex v = spectrum(k / side, k % side) * scale;
      data.features(s, k) = v.real();
      data.features(s, count + k) = v.imag();
    }
  }
  return data;
}

}  // namespace phc::trainers::diff
