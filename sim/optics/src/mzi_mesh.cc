#include "photonsim/mzi_mesh.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "phc/base/check.h"
#include "photonsim/mzi.h"
#include "photonsim/vector_math.h"

namespace photonsim {

MziMesh MziMesh::Clements(int modes) {
  std::vector<std::pair<int, int>> pairs;
  for (int column = 0; column < modes; ++column) {
    for (int top = column % 2; top + 1 < modes; top += 2) pairs.emplace_back(top, top + 1);
  }
  return MziMesh(modes, pairs);
}

MziMesh MziMesh::Reck(int modes) {
  // Diagonal d couples (d, d+1), (d-1, d), ..., (0, 1): a triangle.
  std::vector<std::pair<int, int>> pairs;
  for (int d = 0; d + 1 < modes; ++d) {
    for (int top = d; top >= 0; --top) pairs.emplace_back(top, top + 1);
  }
  return MziMesh(modes, pairs);
}

MziMesh MziMesh::Butterfly(int modes) {
  PHC_CHECK(modes >= 2 && (modes & (modes - 1)) == 0);
  std::vector<std::pair<int, int>> pairs;
  for (int stride = 1; stride < modes; stride *= 2) {
    for (int top = 0; top < modes; ++top) {
      if ((top & stride) == 0) pairs.emplace_back(top, top + stride);
    }
  }
  return MziMesh(modes, pairs);
}

MziMesh::MziMesh(int modes, const std::vector<std::pair<int, int>>& mode_pairs)
    : mode_count_(modes) {
  PHC_CHECK(modes >= 2);
  std::vector<int> next_free_column(modes, 0);
  for (const auto& [top, bottom] : mode_pairs) {
    PHC_CHECK(0 <= top && top < bottom && bottom < modes);
    const int column = std::max(next_free_column[top], next_free_column[bottom]);
    next_free_column[top] = next_free_column[bottom] = column + 1;
    placements_.push_back({column, top, bottom});
    column_count_ = std::max(column_count_, column + 1);
  }
  phases_rad_.assign(phase_count(), 0.0);
  splitting_errors_rad_.assign(2 * mzi_count(), 0.0);
  amplitude_.assign(mzi_count(), 1.0);
  RebuildCouplerTerms();
}

void MziMesh::RebuildCouplerTerms() {
  const int count = mzi_count();
  cc_.resize(count);
  ss_.resize(count);
  sc_.resize(count);
  cs_.resize(count);
  for (int m = 0; m < count; ++m) {
    const MziCouplerTerms k =
        CouplerTerms(splitting_errors_rad_[2 * m], splitting_errors_rad_[2 * m + 1], amplitude_[m]);
    cc_[m] = k.cc;
    ss_[m] = k.ss;
    sc_[m] = k.sc;
    cs_[m] = k.cs;
  }
  cos_theta_.resize(count);
  sin_theta_.resize(count);
  cos_phi_.resize(count);
  sin_phi_.resize(count);
  transfer_.resize(8 * static_cast<std::size_t>(count));
  dirty_mzis_.resize(count);
  for (int m = 0; m < count; ++m) dirty_mzis_[m] = m;
  RebuildPhasors(dirty_mzis_);
  RebuildTransfers({}, /*all=*/true);
}

void MziMesh::RebuildPhasors(std::span<const int> mzis) {
  const std::size_t count = mzis.size();
  angles_rad_.resize(2 * count);
  sines_.resize(2 * count);
  cosines_.resize(2 * count);
  for (std::size_t j = 0; j < count; ++j) {
    angles_rad_[j] = phases_rad_[2 * mzis[j]];
    angles_rad_[count + j] = phases_rad_[2 * mzis[j] + 1];
  }
  SinCos(angles_rad_, sines_, cosines_);
  for (std::size_t j = 0; j < count; ++j) {
    const int m = mzis[j];
    cos_theta_[m] = cosines_[j];
    sin_theta_[m] = sines_[j];
    cos_phi_[m] = cosines_[count + j];
    sin_phi_[m] = sines_[count + j];
  }
}

namespace {

// The closed form of MziMatrix (mzi.h, CouplerTerms) at theta + d, phi + d:
// a common offset d multiplies both phasors by e^{i d}. Real arithmetic on
// arrays, so the loops vectorise.
struct TransferKernel {
  const double *cc, *ss, *sc, *cs, *cos_theta, *sin_theta, *cos_phi, *sin_phi;
  double *t0, *t1, *t2, *t3, *t4, *t5, *t6, *t7;
  double wc, ws;  // e^{i d}

  void operator()(int m) const {
    const double tr = cos_theta[m] * wc - sin_theta[m] * ws;
    const double ti = cos_theta[m] * ws + sin_theta[m] * wc;
    const double pr = cos_phi[m] * wc - sin_phi[m] * ws;
    const double pi = cos_phi[m] * ws + sin_phi[m] * wc;
    const double ur = cc[m] * tr - ss[m], ui = cc[m] * ti;  // cc e^{i theta} - ss
    const double vr = cs[m] * tr + sc[m], vi = cs[m] * ti;  // cs e^{i theta} + sc
    t0[m] = pr * ur - pi * ui;
    t1[m] = pr * ui + pi * ur;
    t2[m] = -sc[m] * ti;
    t3[m] = sc[m] * tr + cs[m];
    t4[m] = -(pr * vi + pi * vr);
    t5[m] = pr * vr - pi * vi;
    t6[m] = cc[m] - ss[m] * tr;
    t7[m] = -ss[m] * ti;
  }
};

}  // namespace

void MziMesh::RebuildTransfers(std::span<const int> mzis, bool all) {
  const TransferKernel kernel{
      cc_.data(),        ss_.data(),      sc_.data(),      cs_.data(),  cos_theta_.data(),
      sin_theta_.data(), cos_phi_.data(), sin_phi_.data(), transfer(0), transfer(1),
      transfer(2),       transfer(3),     transfer(4),     transfer(5), transfer(6),
      transfer(7),       offset_cos_,     offset_sin_};
  if (all) {
    for (int m = 0; m < mzi_count(); ++m) kernel(m);  // contiguous: vectorised
  } else {
    for (const int m : mzis) kernel(m);
  }
}

Matrix2c MziMesh::mzi_transfer(int m) const {
  Matrix2c t;
  t << Complex(transfer(0)[m], transfer(1)[m]), Complex(transfer(2)[m], transfer(3)[m]),
      Complex(transfer(4)[m], transfer(5)[m]), Complex(transfer(6)[m], transfer(7)[m]);
  return t;
}

void MziMesh::SetImperfections(std::span<const double> splitting_errors_rad,
                               std::span<const double> amplitude_transmission) {
  PHC_CHECK(splitting_errors_rad.empty() ||
            static_cast<int>(splitting_errors_rad.size()) == 2 * mzi_count());
  PHC_CHECK(amplitude_transmission.empty() ||
            static_cast<int>(amplitude_transmission.size()) == mzi_count());
  if (splitting_errors_rad.empty()) {
    splitting_errors_rad_.assign(2 * mzi_count(), 0.0);
  } else {
    splitting_errors_rad_.assign(splitting_errors_rad.begin(), splitting_errors_rad.end());
  }
  if (amplitude_transmission.empty()) {
    amplitude_.assign(mzi_count(), 1.0);
  } else {
    amplitude_.assign(amplitude_transmission.begin(), amplitude_transmission.end());
  }
  RebuildCouplerTerms();
}

void MziMesh::SetPhases(std::span<const double> phases_rad) {
  PHC_CHECK(static_cast<int>(phases_rad.size()) == phase_count());
  dirty_mzis_.clear();
  for (int m = 0; m < mzi_count(); ++m) {
    if (phases_rad[2 * m] != phases_rad_[2 * m] ||
        phases_rad[2 * m + 1] != phases_rad_[2 * m + 1]) {
      phases_rad_[2 * m] = phases_rad[2 * m];
      phases_rad_[2 * m + 1] = phases_rad[2 * m + 1];
      dirty_mzis_.push_back(m);
    }
  }
  if (dirty_mzis_.empty()) return;
  RebuildPhasors(dirty_mzis_);
  RebuildTransfers(dirty_mzis_, static_cast<int>(dirty_mzis_.size()) == mzi_count());
}

void MziMesh::SetCommonPhaseOffset(double offset_rad) {
  if (offset_rad == offset_rad_) return;
  offset_rad_ = offset_rad;
  offset_cos_ = std::cos(offset_rad);
  offset_sin_ = std::sin(offset_rad);
  RebuildTransfers({}, /*all=*/true);
}

void MziMesh::SetOutputPhases(std::span<const double> output_phases_rad) {
  PHC_CHECK(output_phases_rad.empty() || static_cast<int>(output_phases_rad.size()) == mode_count_);
  output_phase_factors_.clear();
  for (double phase : output_phases_rad) output_phase_factors_.push_back(std::polar(1.0, phase));
}

int MziMesh::batch_block_rows() const {
  // 16 KiB of fields: half of a 32 KiB L1 data cache.
  constexpr int kBlockBytes = 16 * 1024;
  return std::max(8, kBlockBytes / (mode_count_ * static_cast<int>(sizeof(Complex))) / 8 * 8);
}

void MziMesh::PropagateRows(Complex* fields, Eigen::Index stride, Eigen::Index rows) const {
  const double *t0 = transfer(0), *t1 = transfer(1), *t2 = transfer(2), *t3 = transfer(3),
               *t4 = transfer(4), *t5 = transfer(5), *t6 = transfer(6), *t7 = transfer(7);
  for (int m = 0; m < mzi_count(); ++m) {
    const double ar = t0[m], ai = t1[m], br = t2[m], bi = t3[m], cr = t4[m], ci = t5[m], dr = t6[m],
                 di = t7[m];
    // Real arithmetic: std::complex operator* carries NaN-recovery calls
    // that keep the loop from vectorising.
    double* __restrict x = reinterpret_cast<double*>(fields + placements_[m].top_mode * stride);
    double* __restrict y = reinterpret_cast<double*>(fields + placements_[m].bottom_mode * stride);
    for (Eigen::Index b = 0; b < rows; ++b) {
      const double xr = x[2 * b], xi = x[2 * b + 1], yr = y[2 * b], yi = y[2 * b + 1];
      x[2 * b] = ar * xr - ai * xi + br * yr - bi * yi;
      x[2 * b + 1] = ar * xi + ai * xr + br * yi + bi * yr;
      y[2 * b] = cr * xr - ci * xi + dr * yr - di * yi;
      y[2 * b + 1] = cr * xi + ci * xr + dr * yi + di * yr;
    }
  }
}

void MziMesh::Propagate(MatrixXc& fields) const {
  PHC_CHECK(fields.cols() == mode_count_);
  const Eigen::Index batch = fields.rows();
  const Eigen::Index block = batch_block_rows();
  for (Eigen::Index first = 0; first < batch; first += block) {
    PropagateRows(fields.data() + first, batch, std::min(block, batch - first));
  }
  for (std::size_t k = 0; k < output_phase_factors_.size(); ++k) {
    fields.col(static_cast<Eigen::Index>(k)) *= output_phase_factors_[k];
  }
}

MatrixXc MziMesh::TransferMatrix() const {
  // Row i of the identity is input e_i; it becomes U e_i, column i of U.
  MatrixXc fields = MatrixXc::Identity(mode_count_, mode_count_);
  Propagate(fields);
  return fields.transpose();
}

}  // namespace photonsim
