#include "phc/trainers/onn/chip_execution.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "phc/trainers/diff/layers.h"
#include "photonsim/chip_layout.h"
#include "photonsim/phase.h"

namespace phc::trainers::onn {
namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

// Per layer, the largest |value| its inputs can take (the images are in
// [0, 1]; a clipped ReLU bounds by its clip; pooling keeps the bound; a
// linear layer's outputs are unbounded).
std::vector<double> InputBounds(const Model& model) {
  std::vector<double> bounds;
  double bound = 1.0;
  for (const auto& layer : model.layers()) {
    bounds.push_back(bound);
    if (const auto* relu = dynamic_cast<const ClippedRelu*>(layer.get())) {
      if (relu->clip() > 0.0) bound = std::min(bound, relu->clip());
    } else if (dynamic_cast<const AvgPool*>(layer.get()) == nullptr) {
      bound = kUnbounded;
    }
  }
  return bounds;
}

bool IsModelCore(const photonsim::CircuitLayout& circuit, int k) {
  return circuit.kind == photonsim::CircuitKind::kSvd && circuit.size == k &&
         circuit.spec.svd().coherent_readout();
}

double LoPowerMw(const photonsim::CircuitLayout& circuit) {
  const double lo = circuit.spec.svd().lo_power_mw();
  return lo > 0.0 ? lo : 1.0;
}

}  // namespace

absl::StatusOr<ChipPlacement> PlaceModel(const Model& model,
                                         const photonic::v1::ChipDescription& chip) {
  if (model.realisation() != Realisation::kOptical) {
    return absl::FailedPreconditionError(
        "a digital twin has no phases to deploy; train the optical realisation");
  }
  if (!chip.modulator().bipolar()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "chip ", chip.name(),
        " has unipolar input modulators; signed models need bipolar (push-pull) ones"));
  }
  const std::vector<double> bounds = InputBounds(model);
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    if (OpticalMap(*model.layers()[i]) != nullptr && !std::isfinite(bounds[i])) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model layer ", i,
          " is optical but its inputs are unbounded: put a clipped ReLU (relu { clip: ... }) "
          "before it so the electronics can scale them onto the modulators"));
    }
  }
  const int k = static_cast<int>(model.spec().core_size());
  const photonsim::ChipLayout layout = photonsim::BuildChipLayout(chip);
  ChipPlacement placement;
  placement.readout_scale_mw.assign(layout.circuits.size(), 0.0);
  for (std::size_t c = 0; c < layout.circuits.size(); ++c) {
    const photonsim::CircuitLayout& circuit = layout.circuits[c];
    if (!IsModelCore(circuit, k)) continue;
    placement.readout_scale_mw[c] = 2.0 * std::sqrt(chip.laser_power_mw() * LoPowerMw(circuit));
    if (static_cast<int>(placement.circuits.size()) < model.core_count()) {
      placement.circuits.push_back(static_cast<int>(c));
    }
  }
  if (static_cast<int>(placement.circuits.size()) < model.core_count()) {
    int available = 0;
    for (const auto& circuit : layout.circuits) available += IsModelCore(circuit, k);
    return absl::FailedPreconditionError(
        absl::StrCat("model ", model.spec().name(), " needs ", model.core_count(),
                     " coherent SVD cores of size ", k, "; chip ", chip.name(), " has ", available,
                     " (make one with ChipForModel / photonctl chip-for-model)"));
  }
  return placement;
}

std::vector<double> DeployedPhases(const Model& model, const photonsim::ChipLayout& layout,
                                   const ChipPlacement& placement, std::span<const double> others) {
  PHC_CHECK(static_cast<int>(others.size()) == layout.phase_count);
  std::vector<double> phases(others.begin(), others.end());
  std::size_t core = 0;
  for (const auto& layer : model.layers()) {
    const OpticalLinear* optical = OpticalMap(*layer);
    if (optical == nullptr) continue;
    const int per_core = SvdCore::PhaseCount(optical->core_size());
    // parameters(): the gain, then each core's phases in the chip's order.
    const std::span<const double> parameters = optical->parameter_values();
    for (const CoreBlock& block : optical->blocks()) {
      const photonsim::CircuitLayout& circuit = layout.circuits[placement.circuits.at(core++)];
      PHC_CHECK(circuit.phase_count == per_core);
      std::copy_n(parameters.begin() + block.first_parameter, per_core,
                  phases.begin() + circuit.first_phase);
    }
  }
  return phases;
}

void UsePaperNoiseModel(photonic::v1::ChipDescription& chip, double scale) {
  photonic::v1::FabricationSpec& fabrication = *chip.mutable_fabrication();
  fabrication.Clear();
  fabrication.set_efficiency_spread(0.002 * scale);
  photonic::v1::ThermalSpec& thermal = *chip.mutable_thermal();
  const double tau_us = thermal.tau_us();
  thermal.Clear();
  thermal.set_crosstalk_nearest(0.002 * scale);
  thermal.set_crosstalk_decay_pitch(1.0);
  thermal.set_crosstalk_cutoff_pitch(1.0);
  thermal.set_tau_us(tau_us);
}

int TrimInactivePhases(photonic::v1::ChipDescription& chip, std::span<const int> trained_phases,
                       const std::vector<bool>& active, std::span<const double> deployed) {
  PHC_CHECK(trained_phases.size() == active.size());
  PHC_CHECK(chip.trimmed_phases().empty());
  PHC_CHECK(static_cast<int>(deployed.size()) == photonsim::BuildChipLayout(chip).phase_count);
  int trimmed = 0;
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (active[i]) continue;
    const auto phase = static_cast<std::size_t>(trained_phases[i]);
    photonic::v1::TrimmedPhase& trim = *chip.add_trimmed_phases();
    trim.set_phase(static_cast<std::uint32_t>(phase));
    trim.set_phase_rad(photonsim::WrapPhase(deployed[phase]));
    ++trimmed;
  }
  return trimmed;
}

void UseDatErrorModel(photonic::v1::ChipDescription& chip, double sigma_rad) {
  photonic::v1::FabricationSpec& fabrication = *chip.mutable_fabrication();
  fabrication.Clear();
  fabrication.set_splitting_error_std_rad(sigma_rad);
  fabrication.set_phase_bias_std_rad(sigma_rad);
  const double tau_us = chip.thermal().tau_us();
  chip.mutable_thermal()->Clear();
  chip.mutable_thermal()->set_tau_us(tau_us);
}

photonic::v1::ChipDescription ChipForModel(const Model& model,
                                           const photonic::v1::ChipDescription& instruments) {
  photonic::v1::ChipDescription chip = instruments;
  chip.set_name(model.spec().name() + "_chip");
  chip.clear_circuits();
  auto* cores = chip.add_circuits();
  cores->set_name("core");
  cores->set_count(static_cast<std::uint32_t>(model.core_count()));
  auto* svd = cores->mutable_svd();
  svd->set_size(model.spec().core_size());
  svd->set_coherent_readout(true);
  svd->set_lo_power_mw(1.0);
  chip.mutable_modulator()->set_bipolar(true);
  const photonsim::ChipLayout template_layout = photonsim::BuildChipLayout(instruments);
  if (template_layout.phase_count > 0 && instruments.max_total_heater_power_mw() > 0.0) {
    chip.set_max_total_heater_power_mw(instruments.max_total_heater_power_mw() /
                                       template_layout.phase_count * model.phase_count());
  }
  return chip;
}

namespace {

// One optical linear map on the chip: every row of `x` is one query that
// drives all of the map's cores at once (inputs scaled by 1 / bound).
absl::StatusOr<Eigen::MatrixXd> RunOnChip(const OpticalLinear& map, const Eigen::MatrixXd& x,
                                          double bound, std::size_t first_core,
                                          const ChipPlacement& placement, ChipOracle& oracle) {
  const photonsim::ChipLayout& layout = oracle.layout();
  const int k = map.core_size();
  const bool receiver_calibrated =
      placement.output_gain_per_mw.size() == static_cast<std::size_t>(layout.output_count) &&
      placement.output_offset_mw.size() == static_cast<std::size_t>(layout.output_count);
  // Rows are sent in sweeps of up to kSweepRows (ChipOracle::QueryBatch),
  // reading only the map's outputs: per output read, its y column and core.
  constexpr Eigen::Index kSweepRows = 256;
  const auto inputs = static_cast<std::size_t>(layout.input_count);
  std::vector<int> scan, scan_column, scan_circuit;
  for (std::size_t b = 0; b < map.blocks().size(); ++b) {
    const int index = placement.circuits[first_core + b];
    const int r0 = map.blocks()[b].row * k;
    const int out_rows = std::min(k, map.out_width() - r0);
    for (int i = 0; i < out_rows; ++i) {
      scan.push_back(layout.circuits[index].first_output + i);
      scan_column.push_back(r0 + i);
      scan_circuit.push_back(index);
    }
  }
  std::vector<double> amplitudes;
  Eigen::MatrixXd y = Eigen::MatrixXd::Zero(x.rows(), map.out_width());
  for (Eigen::Index first = 0; first < x.rows(); first += kSweepRows) {
    const Eigen::Index rows = std::min(kSweepRows, x.rows() - first);
    amplitudes.assign(static_cast<std::size_t>(rows) * inputs, 0.0);
    for (Eigen::Index n = 0; n < rows; ++n) {
      double* row = amplitudes.data() + n * inputs;
      for (std::size_t b = 0; b < map.blocks().size(); ++b) {
        const CoreBlock& block = map.blocks()[b];
        const photonsim::CircuitLayout& circuit =
            layout.circuits[placement.circuits[first_core + b]];
        const int c0 = block.col * k;
        const int cols = std::min(k, map.in_width() - c0);
        for (int j = 0; j < cols; ++j) {
          row[circuit.first_input + j] = std::clamp(x(first + n, c0 + j) / bound, -1.0, 1.0);
        }
      }
    }
    absl::StatusOr<std::vector<double>> readings = oracle.QueryBatch(amplitudes, scan);
    if (!readings.ok()) return readings.status();
    for (Eigen::Index n = 0; n < rows; ++n) {
      const double* reading = readings->data() + n * scan.size();
      for (std::size_t j = 0; j < scan.size(); ++j) {
        const int output = scan[j];
        y(first + n, scan_column[j]) +=
            receiver_calibrated ? (reading[j] - placement.output_offset_mw[output]) *
                                      placement.output_gain_per_mw[output]
                                : reading[j] / placement.readout_scale_mw[scan_circuit[j]];
      }
    }
  }
  return y * (bound * map.gain());
}

// The first core of each optical layer (ChipPlacement::circuits order).
std::vector<std::size_t> FirstCores(const Model& model) {
  std::vector<std::size_t> first(model.layers().size(), 0);
  std::size_t core = 0;
  for (std::size_t i = 0; i < model.layers().size(); ++i) {
    first[i] = core;
    if (const OpticalLinear* optical = OpticalMap(*model.layers()[i])) {
      core += optical->blocks().size();
    }
  }
  return first;
}

absl::StatusOr<Eigen::MatrixXd> RunLayerOnChip(const ModelLayer& layer, const Eigen::MatrixXd& x,
                                               double bound, std::size_t first_core,
                                               const ChipPlacement& placement, ChipOracle& oracle) {
  const OpticalLinear& optical = *OpticalMap(layer);
  if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    absl::StatusOr<Eigen::MatrixXd> y =
        RunOnChip(optical, conv->Im2Col(x), bound, first_core, placement, oracle);
    if (!y.ok()) return y.status();
    return conv->PatchOutputsToImages(*y, static_cast<int>(x.rows()));
  }
  return RunOnChip(optical, x, bound, first_core, placement, oracle);
}

// ChipForward; with `keep_for_backward`, every layer also runs its own
// Forward on the chip's activations (so Backward sees them) before an
// optical layer's output is replaced by the chip's.
absl::StatusOr<Eigen::MatrixXd> RunForward(Model& model, const ChipPlacement& placement,
                                           ChipOracle& oracle, const Eigen::MatrixXd& features,
                                           bool keep_for_backward, std::size_t end_layer) {
  if (features.cols() != model.input_width()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "features have ", features.cols(), " columns; the model reads ", model.input_width()));
  }
  const std::vector<double> bounds = InputBounds(model);
  const std::vector<std::size_t> first_cores = FirstCores(model);
  Eigen::MatrixXd x = features;
  for (std::size_t i = 0; i < end_layer; ++i) {
    ModelLayer& layer = *model.layers()[i];
    if (OpticalMap(layer) == nullptr) {
      x = layer.Forward(x);
      continue;
    }
    if (keep_for_backward) layer.Forward(x);
    absl::StatusOr<Eigen::MatrixXd> y =
        RunLayerOnChip(layer, x, bounds[i], first_cores[i], placement, oracle);
    if (!y.ok()) return y.status();
    x = *std::move(y);
  }
  return x;
}

}  // namespace

absl::StatusOr<Eigen::MatrixXd> ChipForward(Model& model, const ChipPlacement& placement,
                                            ChipOracle& oracle, const Eigen::MatrixXd& features) {
  return RunForward(model, placement, oracle, features, false, model.layers().size());
}

absl::StatusOr<Eigen::MatrixXd> ChipForwardTo(Model& model, const ChipPlacement& placement,
                                              ChipOracle& oracle, const Eigen::MatrixXd& features,
                                              std::size_t end_layer) {
  if (end_layer > model.layers().size()) {
    return absl::InvalidArgumentError(absl::StrCat("end layer ", end_layer, " is past the model's ",
                                                   model.layers().size(), " layers"));
  }
  return RunForward(model, placement, oracle, features, false, end_layer);
}

absl::StatusOr<Eigen::MatrixXd> ChipLayerForward(Model& model, std::size_t layer,
                                                 const ChipPlacement& placement, ChipOracle& oracle,
                                                 const Eigen::MatrixXd& x) {
  if (layer >= model.layers().size() || OpticalMap(*model.layers()[layer]) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("model layer ", layer, " is not an optical layer"));
  }
  if (x.cols() != model.layers()[layer]->in_width()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "layer ", layer, " reads ", model.layers()[layer]->in_width(), " columns; got ", x.cols()));
  }
  return RunLayerOnChip(*model.layers()[layer], x, InputBounds(model)[layer],
                        FirstCores(model)[layer], placement, oracle);
}

absl::StatusOr<double> ChipLossAndGradients(Model& model, const ChipPlacement& placement,
                                            ChipOracle& oracle, const Eigen::MatrixXd& features,
                                            std::span<const int> labels, Eigen::MatrixXd* logits) {
  if (static_cast<Eigen::Index>(labels.size()) != features.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("labels: ", labels.size(), " for ", features.rows(), " feature rows"));
  }
  absl::StatusOr<Eigen::MatrixXd> out =
      RunForward(model, placement, oracle, features, true, model.layers().size());
  if (!out.ok()) return out.status();
  Eigen::MatrixXd delta;
  const double loss = diff::SoftmaxCrossEntropy(*out, labels, &delta);
  model.Backward(delta);
  if (logits != nullptr) *logits = *std::move(out);
  return loss;
}

int QueriesPerSample(const Model& model) {
  int queries = 0;
  for (const auto& layer : model.layers()) {
    if (OpticalMap(*layer) == nullptr) continue;
    const auto* conv = dynamic_cast<const Conv2d*>(layer.get());
    queries += conv == nullptr ? 1 : conv->geometry().out_height() * conv->geometry().out_width();
  }
  return std::max(1, queries);
}

absl::StatusOr<ChipEvaluation> ChipAccuracy(Model& model, const ChipPlacement& placement,
                                            ChipOracle& oracle, const Dataset& data,
                                            const std::function<bool(int, int)>& progress,
                                            int batch_size) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size must be >= 1, got ", batch_size));
  }
  ChipEvaluation evaluation;
  const std::int64_t queries_before = oracle.cost().queries;
  int correct = 0;
  for (int start = 0; start < data.size(); start += batch_size) {
    const int n = std::min(batch_size, data.size() - start);
    absl::StatusOr<Eigen::MatrixXd> logits =
        ChipForward(model, placement, oracle, data.features.middleRows(start, n));
    if (!logits.ok()) return logits.status();
    correct += static_cast<int>(std::lround(
        ArgmaxAccuracy(*logits, std::span<const int>(data.labels.data() + start, n)) * n));
    evaluation.samples += n;
    evaluation.accuracy = static_cast<double>(correct) / evaluation.samples;
    evaluation.queries = oracle.cost().queries - queries_before;
    if (progress && !progress(evaluation.samples, data.size())) break;
  }
  return evaluation;
}

}  // namespace phc::trainers::onn
