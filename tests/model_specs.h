// Small model descriptions shared by the model tests.
#pragma once

#include <cstdint>
#include <string>

#include "photonic/v1/model.pb.h"

namespace phc::testing {

// 16 synthetic features (4x4 images) -> hidden -> 3 classes on 4x4 cores:
// hidden 4 takes 4 cores, the readout 1.
inline photonic::v1::ModelSpec TinyModelSpec(const std::string& name = "tiny", int hidden = 4) {
  photonic::v1::ModelSpec spec;
  spec.set_name(name);
  spec.mutable_input()->set_dataset("synthetic");
  spec.mutable_input()->set_image_size(4);
  spec.mutable_input()->set_classes(3);
  spec.set_core_size(4);
  spec.add_layers()->mutable_linear()->set_outputs(static_cast<std::uint32_t>(hidden));
  spec.add_layers()->mutable_relu()->set_clip(4.0);
  spec.add_layers()->mutable_linear()->set_outputs(3);
  return spec;
}

}  // namespace phc::testing
