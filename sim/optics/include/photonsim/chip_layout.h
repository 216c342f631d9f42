// How a chip description's circuits share the chip-wide numbering of phase
// shifters, inputs (modulators) and outputs (detectors), and where each
// heater sits (for thermal crosstalk).
#pragma once

#include <string>
#include <vector>

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

// "mesh/clements", "mesh/reck", "mesh/butterfly", "svd", "microring_bank".
std::string CircuitKindName(const CircuitLayout& circuit);

// The mesh a MeshCircuit describes, with ideal components.
MziMesh MeshForCircuit(const photonic::v1::MeshCircuit& mesh);

// Heater positions within one circuit, in heater pitches, indexed by the
// circuit's own phase index.
std::vector<HeaterPosition> HeaterPositions(const CircuitLayout& circuit);

}  // namespace photonsim
