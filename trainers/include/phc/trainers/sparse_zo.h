// Power-aware sparse zeroth-order coordinate descent (SZO-SCD), after Gu et
// al., "Efficient On-Chip Learning for Optical Neural Networks Through
// Power-Aware Sparse Zeroth-Order Optimization", AAAI 2021.
//
// Two levels of sparsity, named as in the paper:
//  1. parameter (mixed training): a fixed random fraction active_fraction
//     (alpha) of the mesh phases is trained, the others are frozen for the
//     whole run (passive devices); the attenuator (Sigma) phases are always
//     trained;
//  2. coordinate: every step, each active phase is visited with probability
//     visit_fraction (s), drawn afresh.
// A visited phase first tries +delta and keeps it if the minibatch loss
// falls; otherwise it steps -delta, accepted without a check (one query).
// Power-aware dynamic pruning: that backward step is pruned (not taken, no
// query), with probability prune_probability (p), when it would raise the
// heater power, which with power ~ (phase -
// bias) mod 2 pi happens where the step wraps the phase from near zero power
// to near 2 pi. No probe whose heater power exceeds power_budget_mw is ever
// sent to the chip (the step is pruned instead).
//
// The loop is the paper's Algorithm 1. Two of our readings matter here
// (docs/training.md): a backward step that would raise power(phi) is
// pruned with probability p (lines 8-10 read literally never prune at
// p = 1, which the text calls fully power-aware); and each active phase is
// visited with probability s, where the paper samples exactly s|A| of them
// without replacement (the same number on average).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "phc/trainers/zo_optimizers.h"

namespace phc::trainers {

// Heater power, in mW, of parameter `index` at `phase_rad`.
using PhasePowerFn = std::function<double(int index, double phase_rad)>;

struct SparseZoOptions {
  double step_rad = 0.05;          // delta at step 0
  double min_step_rad = 0.0245;    // floor of the exponential decay
  double decay = 1.0;              // delta x decay every decay_every steps
  int decay_every = 1;             // steps (an epoch, in the paper's schedule)
  double active_fraction = 0.4;    // alpha: fraction of mesh phases trained
  double visit_fraction = 0.1;     // s: fraction of active phases visited per step
  double prune_probability = 1.0;  // p: power-raising backward steps pruned
  double power_budget_mw = 0.0;    // trained phases' heater budget (0: none)
  std::uint64_t seed = 1;
};

// Which parameters a run with these options trains (the mixed-training
// mask, drawn once from options.seed): always_active ones, and each other
// one with probability active_fraction.
std::vector<bool> SparseZoActiveMask(const SparseZoOptions& options,
                                     const std::vector<bool>& always_active);

// always_active[i]: parameter i is an attenuator phase (never frozen).
// REQUIRES: options validated by ValidateSparseZoOptions.
std::unique_ptr<ZoOptimizer> MakeSparseZo(const SparseZoOptions& options,
                                          std::vector<bool> always_active, PhasePowerFn power);

absl::Status ValidateSparseZoOptions(const SparseZoOptions& options);

}  // namespace phc::trainers
