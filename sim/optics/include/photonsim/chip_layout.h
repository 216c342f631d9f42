// How a chip description's circuits share the chip-wide numbering of phase
// shifters, inputs (modulators) and outputs (detectors), and where each
// heater sits (for thermal crosstalk).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "photonic/v1/config.pb.h"
#include "photonsim/mzi_mesh.h"

namespace photonsim {

enum class CircuitKind { kMesh, kSvd, kMicroringBank };

struct CircuitLayout {
  std::string name;  // "name" or "name[i]" for replicated circuits
  CircuitKind kind = CircuitKind::kMesh;
  photonic::v1::CircuitSpec spec;
  int size = 0;  // modes (mesh, svd) or wavelength channels (microring bank)
  int first_phase = 0;
  int phase_count = 0;
  int first_input = 0;
  int input_count = 0;
  int first_output = 0;
  int output_count = 0;
  int first_mzi = 0;  // chip-wide index of its first MZI (imperfection slots)
  int mzi_count = 0;
};

struct HeaterPosition {
  double x_pitch = 0.0;
  double y_pitch = 0.0;
};

struct ChipLayout {
  std::vector<CircuitLayout> circuits;
  int phase_count = 0;
  int input_count = 0;
  int output_count = 0;
  int mzi_count = 0;
};

// REQUIRES: ValidateChipDescription(chip).ok().
ChipLayout BuildChipLayout(const photonic::v1::ChipDescription& chip);

// A list of outputs to read (an ADC scan list): INVALID_ARGUMENT naming the
// first entry out of [0, output_count) or repeated.
absl::Status ValidateOutputScan(int output_count, std::span<const int> outputs);

// "mesh/clements", "mesh/reck", "mesh/butterfly", "svd", "svd/coherent",
// "microring_bank".
std::string CircuitKindName(const CircuitLayout& circuit);

// An SVD core with homodyne readout (svd.coherent_readout). Its phases are
// [V-dagger mesh][n attenuators][U mesh][n LO phases psi], 2n(n-1) + 2n; its
// MZI slots [V-dagger mesh][n attenuators][U mesh][n homodyne stages], a
// stage's slot holding its coupler's splitting error (the second splitting
// entry is unused) and its LO arm's amplitude transmission.
bool HasCoherentReadout(const CircuitLayout& circuit);

// Whether every output is a balanced photodiode pair, read as
// R (P_positive - P_negative) with the dark currents cancelling: microring
// banks and coherent SVD cores.
bool HasBalancedOutputs(const CircuitLayout& circuit);

// A coherent core's LO power per output: lo_power_mw, 0 meaning 1 mW.
double LoPowerMw(const photonic::v1::SvdCircuit& svd);

// The mesh a MeshCircuit describes, with ideal components.
MziMesh MeshForCircuit(const photonic::v1::MeshCircuit& mesh);

// Heater positions within one circuit, in heater pitches, indexed by the
// circuit's own phase index. A coherent SVD core's LO heaters form one more
// column after the U mesh, LO k level with output k.
std::vector<HeaterPosition> HeaterPositions(const CircuitLayout& circuit);

}  // namespace photonsim
