#include "photonsim/chip_layout.h"

#include "absl/strings/str_cat.h"
#include "photonsim/mzi_mesh.h"

namespace photonsim {
MziMesh MeshForCircuit(const photonic::v1::MeshCircuit& mesh) {
  const int n = static_cast<int>(mesh.size());
  switch (mesh.topology()) {
    case photonic::v1::MESH_TOPOLOGY_RECK:
      return MziMesh::Reck(n);
    case photonic::v1::MESH_TOPOLOGY_BUTTERFLY:
      return MziMesh::Butterfly(n);
    default:
      return MziMesh::Clements(n);
  }
}

namespace {

void AppendMeshPositions(const MziMesh& mesh, double x_offset, std::vector<HeaterPosition>& out) {
  // Per MZI: theta on the internal arm one pitch after phi on the input.
  for (const MziPlacement& p : mesh.placements()) {
    const double y = p.top_mode;
    out.push_back({x_offset + 2.0 * p.column + 1.0, y});  // theta
    out.push_back({x_offset + 2.0 * p.column, y});        // phi
  }
}

}  // namespace

std::string CircuitKindName(const CircuitLayout& circuit) {
  switch (circuit.kind) {
    case CircuitKind::kSvd:
      return HasCoherentReadout(circuit) ? "svd/coherent" : "svd";
    case CircuitKind::kMicroringBank:
      return "microring_bank";
    case CircuitKind::kMesh:
      break;
  }
  switch (circuit.spec.mesh().topology()) {
    case photonic::v1::MESH_TOPOLOGY_RECK:
      return "mesh/reck";
    case photonic::v1::MESH_TOPOLOGY_BUTTERFLY:
      return "mesh/butterfly";
    default:
      return "mesh/clements";
  }
}

bool HasCoherentReadout(const CircuitLayout& circuit) {
  return circuit.kind == CircuitKind::kSvd && circuit.spec.svd().coherent_readout();
}

bool HasBalancedOutputs(const CircuitLayout& circuit) {
  return circuit.kind == CircuitKind::kMicroringBank || HasCoherentReadout(circuit);
}

double LoPowerMw(const photonic::v1::SvdCircuit& svd) {
  return svd.lo_power_mw() == 0.0 ? 1.0 : svd.lo_power_mw();
}

ChipLayout BuildChipLayout(const photonic::v1::ChipDescription& chip) {
  ChipLayout layout;
  for (const photonic::v1::CircuitSpec& spec : chip.circuits()) {
    const int copies = spec.count() == 0 ? 1 : static_cast<int>(spec.count());
    for (int copy = 0; copy < copies; ++copy) {
      CircuitLayout c;
      c.name = copies == 1 ? spec.name() : absl::StrCat(spec.name(), "[", copy, "]");
      c.spec = spec;
      switch (spec.kind_case()) {
        case photonic::v1::CircuitSpec::kMesh: {
          const MziMesh mesh = MeshForCircuit(spec.mesh());
          c.kind = CircuitKind::kMesh;
          c.size = mesh.mode_count();
          c.phase_count = mesh.phase_count();
          c.mzi_count = mesh.mzi_count();
          c.input_count = c.output_count = c.size;
          break;
        }
        case photonic::v1::CircuitSpec::kSvd: {
          const int n = static_cast<int>(spec.svd().size());
          // Coherent readout: n homodyne stages (MZI slots) and LO phases more.
          const int homodyne = spec.svd().coherent_readout() ? n : 0;
          c.kind = CircuitKind::kSvd;
          c.size = n;
          c.mzi_count = n * (n - 1) + n + homodyne;  // two Clements meshes, n attenuators
          c.phase_count = 2 * n * (n - 1) + n + homodyne;
          c.input_count = c.output_count = n;
          break;
        }
        default: {
          const auto& bank = spec.microring_bank();
          c.kind = CircuitKind::kMicroringBank;
          c.size = static_cast<int>(bank.channels());
          c.phase_count = static_cast<int>(bank.channels() * bank.rows());
          c.input_count = static_cast<int>(bank.channels());
          c.output_count = static_cast<int>(bank.rows());
          break;
        }
      }
      c.first_phase = layout.phase_count;
      c.first_input = layout.input_count;
      c.first_output = layout.output_count;
      c.first_mzi = layout.mzi_count;
      layout.phase_count += c.phase_count;
      layout.input_count += c.input_count;
      layout.output_count += c.output_count;
      layout.mzi_count += c.mzi_count;
      layout.circuits.push_back(std::move(c));
    }
  }
  return layout;
}

std::vector<HeaterPosition> HeaterPositions(const CircuitLayout& circuit) {
  std::vector<HeaterPosition> positions;
  positions.reserve(circuit.phase_count);
  switch (circuit.kind) {
    case CircuitKind::kMesh:
      AppendMeshPositions(MeshForCircuit(circuit.spec.mesh()), 0.0, positions);
      break;
    case CircuitKind::kSvd: {
      const MziMesh mesh = MziMesh::Clements(circuit.size);
      AppendMeshPositions(mesh, 0.0, positions);
      const double attenuator_x = 2.0 * mesh.column_count() + 1.0;
      for (int k = 0; k < circuit.size; ++k) positions.push_back({attenuator_x, double(k)});
      const double u_x = attenuator_x + 2.0;
      AppendMeshPositions(mesh, u_x, positions);
      if (HasCoherentReadout(circuit)) {
        const double lo_x = u_x + 2.0 * mesh.column_count() + 1.0;
        for (int k = 0; k < circuit.size; ++k) positions.push_back({lo_x, double(k)});
      }
      break;
    }
    case CircuitKind::kMicroringBank: {
      const int channels = circuit.size;
      for (int i = 0; i < circuit.phase_count; ++i) {
        positions.push_back({double(i % channels), double(i / channels)});
      }
      break;
    }
  }
  return positions;
}

absl::Status ValidateOutputScan(int output_count, std::span<const int> outputs) {
  std::vector<char> seen(output_count, 0);
  for (std::size_t j = 0; j < outputs.size(); ++j) {
    if (outputs[j] < 0 || outputs[j] >= output_count) {
      return absl::InvalidArgumentError(absl::StrCat("outputs[", j, "] = ", outputs[j],
                                                     " is out of range (the chip has ",
                                                     output_count, " outputs)"));
    }
    if (seen[outputs[j]]++) {
      return absl::InvalidArgumentError(
          absl::StrCat("outputs[", j, "] = ", outputs[j], " appears more than once"));
    }
  }
  return absl::OkStatus();
}

}  // namespace photonsim
