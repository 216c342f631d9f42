// A model for the benches: its spec file, built for optical realisation,
// with the parameters `model_bench --save` wrote (one number per line).
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/status/statusor.h"
#include "phc/trainers/onn/model.h"

namespace phc::testing {

// Prints a bench's fatal error to stderr; returns its exit code, 2.
inline int PrintFailure(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return 2;
}

struct SavedModel {
  photonic::v1::ModelSpec spec;
  trainers::onn::Model model;
};

inline absl::StatusOr<SavedModel> LoadSavedModel(const std::string& spec_path,
                                                 const std::string& params_path) {
  namespace onn = trainers::onn;
  absl::StatusOr<photonic::v1::ModelSpec> spec = onn::LoadModelSpec(spec_path);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<onn::Model> model = onn::Model::Build(*spec, onn::Realisation::kOptical, 1);
  if (!model.ok()) return model.status();
  std::ifstream in(params_path);
  Eigen::VectorXd parameters(model->parameter_count());
  for (Eigen::Index i = 0; i < parameters.size(); ++i) {
    if (!(in >> parameters(i))) {
      return absl::DataLossError(params_path + ": fewer parameters than the model's " +
                                 std::to_string(parameters.size()));
    }
  }
  model->SetParameters(parameters);
  return SavedModel{*std::move(spec), *std::move(model)};
}

}  // namespace phc::testing
