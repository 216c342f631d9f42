// Running a model on a chip: which circuits its cores take, the chip phase
// vector that deploys it, a chip description sized for it, and the forward
// pass executed on the chip through a ChipOracle (the simulator or hardware
// through the daemon, or the ideal ModelOracle).
//
// The chip needs coherent SVD cores (svd { coherent_readout: true }) of the
// model's core size and bipolar (push-pull) input modulators. A core's
// balanced homodyne reading, in mW, is readout_scale_mw * Re(M x) for input
// amplitudes x, with readout_scale_mw = 2 sqrt(laser_power_mw * lo_power_mw)
// for an ideal receiver (docs/photonsim.md). The electronics do the rest:
// they scale each optical layer's inputs into [-1, 1] (dividing by the
// bound the layer before guarantees: 1 for the images, the clip of a
// clipped ReLU), divide the readings by readout_scale_mw, sum the block
// columns, undo the input scaling and apply the layer's gain.
#pragma once

#include <Eigen/Core>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/model.h"
#include "photonic/v1/config.pb.h"

namespace phc::trainers::onn {

struct ChipPlacement {
  // circuits[i]: the chip circuit (index into ChipLayout::circuits) running
  // the model's core i (layers in order, blocks row-major within a layer).
  std::vector<int> circuits;
  // Balanced reading (mW) per unit of Re(M x), per circuit of the chip.
  std::vector<double> readout_scale_mw;
  // The receivers' measured calibration, per chip output (empty: nominal):
  // Re(M x)_k = (reading_k - output_offset_mw[k]) * output_gain_per_mw[k].
  // Set by ProgramCoresInSitu (in_situ_programming.h).
  std::vector<double> output_offset_mw;
  std::vector<double> output_gain_per_mw;
};

// Places the model's cores on the chip's coherent SVD cores of the model's
// size, in circuit order. FAILED_PRECONDITION naming what is missing: too
// few such cores (how many the model needs, how many the chip has),
// unipolar modulators, a realisation that is not optical, or an optical
// layer whose inputs are unbounded (no clipped ReLU before it).
absl::StatusOr<ChipPlacement> PlaceModel(const Model& model,
                                         const photonic::v1::ChipDescription& chip);

// The chip's full phase vector with the model's phases on its cores and
// `others` (one per chip phase) everywhere else.
// REQUIRES: others.size() == the chip's phase count; placement from PlaceModel.
std::vector<double> DeployedPhases(const Model& model, const photonsim::ChipLayout& layout,
                                   const ChipPlacement& placement, std::span<const double> others);

// A chip description with exactly the cores `model` needs (coherent SVD
// cores of its size, bipolar modulators) and the instruments, heater,
// detector, fabrication and thermal specs of `instruments`. The total
// heater budget is scaled with the phase count (per-phase budget of the
// template kept). The name is "<model name>_chip".
photonic::v1::ChipDescription ChipForModel(const Model& model,
                                           const photonic::v1::ChipDescription& instruments);

// Replaces the chip's fabrication and thermal specs with the noise model of
// Gu et al. (AAAI 2021), in photonsim's electrical terms:
//  - a multiplicative phase error phi (1 + gamma), gamma ~ N(0, 0.002)
//    truncated at 3 sigma, per device, on every device: the heater
//    efficiency spread (phase = efficiency x power, with no phase bias);
//  - crosstalk 0.002 between adjacent heaters only (1 pitch), coming from a
//    heater's power, so a heater at zero power emits none;
//  - no phase bias (power is proportional to phi mod 2 pi, the paper's
//    power model), resistance spread, coupler error, loss, detector spread
//    or temperature drift. The instruments (DACs, detector noise, ADCs) are
//    kept. docs/photonsim.md says what is our construction.
// scale multiplies both (1: the paper's values).
void UsePaperNoiseModel(photonic::v1::ChipDescription& chip, double scale = 1.0);

// The sparse-ZO paper's mixed training: each trained phase (chip index
// trained_phases[i]) whose active[i] is false becomes a trimmed (passive)
// shifter fixed at deployed[chip index], wrapped to [0, 2 pi): no heater, no
// power, no crosstalk emitted. Returns how many were trimmed.
// REQUIRES: equal lengths; deployed covers the chip; none trimmed yet.
int TrimInactivePhases(photonic::v1::ChipDescription& chip, std::span<const int> trained_phases,
                       const std::vector<bool>& active, std::span<const double> deployed);

// Replaces the chip's fabrication and thermal specs with the error model of
// DAT (Zheng et al. 2023): static errors, N(0, sigma) on every coupler's
// splitting angle (the authors' code also puts it on the angle: cos(pi/4 +
// e)) and on every phase shifter's phase (the phase bias); no spreads,
// crosstalk, loss or drift. The instruments are kept.
void UseDatErrorModel(photonic::v1::ChipDescription& chip, double sigma_rad);

// Logits measured on the chip, whose phases must already be the deployed
// ones: one chip query per sample and optical linear layer, and one per
// sample, patch and optical convolution. Electronic layers run here.
absl::StatusOr<Eigen::MatrixXd> ChipForward(Model& model, const ChipPlacement& placement,
                                            ChipOracle& oracle, const Eigen::MatrixXd& features);

// The layers before end_layer only (a fabricated frontend): optical layers
// measured on the chip, electronic ones computed, as ChipForward does;
// their output is layer end_layer's input. INVALID_ARGUMENT for an
// end_layer past the model.
absl::StatusOr<Eigen::MatrixXd> ChipForwardTo(Model& model, const ChipPlacement& placement,
                                              ChipOracle& oracle, const Eigen::MatrixXd& features,
                                              std::size_t end_layer);

// One optical layer (linear or convolution) measured on the chip, whose
// phases must be the deployed ones: its output for input rows `x`, as
// ChipForward computes it. INVALID_ARGUMENT for an electronic layer or a
// width that does not fit.
absl::StatusOr<Eigen::MatrixXd> ChipLayerForward(Model& model, std::size_t layer,
                                                 const ChipPlacement& placement, ChipOracle& oracle,
                                                 const Eigen::MatrixXd& x);

// Physics-aware training's gradient (Wright et al. 2022): the forward pass
// measured on the chip (as ChipForward), the backward pass through the
// model at the chip's activations. Returns the mean cross-entropy of the
// measured logits; replaces model.Gradients() with its gradient.
absl::StatusOr<double> ChipLossAndGradients(Model& model, const ChipPlacement& placement,
                                            ChipOracle& oracle, const Eigen::MatrixXd& features,
                                            std::span<const int> labels,
                                            Eigen::MatrixXd* logits = nullptr);

// Chip queries ChipForward spends per sample: one per optical linear layer,
// one per output position of each optical convolution.
int QueriesPerSample(const Model& model);

struct ChipEvaluation {
  double accuracy = 0.0;
  int samples = 0;
  std::int64_t queries = 0;
};
// Accuracy over `data` in batches; `progress(done, total)` after each batch;
// stops early (returning what was measured) when `progress` returns false.
absl::StatusOr<ChipEvaluation> ChipAccuracy(
    Model& model, const ChipPlacement& placement, ChipOracle& oracle, const Dataset& data,
    const std::function<bool(int done, int total)>& progress = {}, int batch_size = 100);

}  // namespace phc::trainers::onn
