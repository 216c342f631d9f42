// The two probes of a central difference along one parameter.
#pragma once

#include <utility>
#include <vector>

#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {

// The losses at params with parameter i moved by +h, then by -h; params is
// as it was on return, error or not.
inline absl::StatusOr<std::pair<double, double>> ProbeBothWays(std::vector<double>& params, int i,
                                                               double h, const LossFn& loss) {
  const double x = params[i];
  params[i] = x + h;
  absl::StatusOr<double> plus = loss(params);
  params[i] = x - h;
  absl::StatusOr<double> minus = plus.ok() ? loss(params) : plus;
  params[i] = x;
  if (!plus.ok()) return plus.status();
  if (!minus.ok()) return minus.status();
  return std::make_pair(*plus, *minus);
}

}  // namespace phc::trainers
