// An ONN model built from its description (proto/photonic/v1/model.proto):
// the layer stack, its loss and gradients, its parameters as one vector, and
// the images it reads.
//
// The same description builds two realisations: kOptical (signed layers on
// blocked coherent SVD cores, trained as phases) and kDigital (the digital
// twin: free weights of the same shape, the ceiling).
//
// Thread safety: none; a model belongs to one trainer.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/trainers/dataset.h"
#include "phc/trainers/onn/model_layers.h"
#include "photonic/v1/model.pb.h"

namespace phc::trainers::onn {

enum class Realisation { kOptical, kDigital };

// INVALID_ARGUMENT naming the layer and the field for an unusable description.
absl::Status ValidateModelSpec(const photonic::v1::ModelSpec& spec);

// Reads a ModelSpec text file and validates it: NOT_FOUND for a missing
// file, INVALID_ARGUMENT (with the parser's line and column) for a malformed
// one, and ValidateModelSpec's errors.
absl::StatusOr<photonic::v1::ModelSpec> LoadModelSpec(const std::filesystem::path& path);

// The side of the images the model reads, and its class count.
int ImageSide(const photonic::v1::ModelSpec& spec);
int ClassCount(const photonic::v1::ModelSpec& spec);

// Images (pixels 0..255, one per row) as the model reads them: pixel / 255,
// resampled to image_size (area average down, zero-padding up), the first
// ClassCount() classes kept.
Dataset ImagesForModel(const ImageSet& images, const photonic::v1::ModelSpec& spec);

struct ModelData {
  Dataset train;
  Dataset test;
};
// The training and test sets a model reads: Fashion-MNIST from `dir` (see
// FashionMnistDir) through ImagesForModel, or for "synthetic" Gaussian
// clusters of ImageSide^2 features (seed 1; train_limit / test_limit
// samples, 0: 600 / 300). At most train_limit / test_limit samples (0: all).
// Errors name the directory (NOT_FOUND) as LoadFashionMnist does.
absl::StatusOr<ModelData> LoadModelData(const photonic::v1::ModelSpec& spec,
                                        const std::filesystem::path& fashion_mnist_dir,
                                        int train_limit, int test_limit);

class Model {
 public:
  static absl::StatusOr<Model> Build(const photonic::v1::ModelSpec& spec, Realisation realisation,
                                     std::uint64_t seed);
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  const photonic::v1::ModelSpec& spec() const { return spec_; }
  Realisation realisation() const { return realisation_; }
  const std::vector<std::unique_ptr<ModelLayer>>& layers() const { return layers_; }
  // The width of layer `first_layer`'s input (the images for layer 0).
  int input_width(std::size_t first_layer = 0) const { return layers_[first_layer]->in_width(); }
  // SVD cores and their phases (kOptical; 0 for the digital twin).
  int core_count() const;
  int phase_count() const;

  // Logits (batch x classes). With first_layer > 0 the layers before it are
  // skipped and `features` are that layer's inputs (a frozen frontend whose
  // outputs were measured).
  Eigen::MatrixXd Forward(const Eigen::MatrixXd& features, std::size_t first_layer = 0);
  // Mean softmax cross-entropy; replaces Gradients() with its gradient.
  // `logits`, when given, receives the forward pass's logits.
  double LossAndGradients(const Eigen::MatrixXd& features, std::span<const int> labels,
                          Eigen::MatrixXd* logits = nullptr, std::size_t first_layer = 0);
  // Backpropagates dL/d(logits) from the last Forward down to first_layer;
  // replaces Gradients() (zero for the layers before first_layer).
  void Backward(const Eigen::MatrixXd& d_loss_d_logits, std::size_t first_layer = 0);
  // The index in Parameters() of layer `layer`'s first parameter (the
  // parameters of layers >= layer are the vector's tail from there).
  int FirstParameter(std::size_t layer) const;
  void SetPhaseNoise(double std_rad, std::mt19937_64* rng);

  int parameter_count() const;
  Eigen::VectorXd Parameters() const;
  // REQUIRES: parameters.size() == parameter_count().
  void SetParameters(const Eigen::VectorXd& parameters);
  Eigen::VectorXd Gradients() const;
  // For losses assembled from several backward passes.
  // REQUIRES: gradients.size() == parameter_count().
  void SetGradients(const Eigen::VectorXd& gradients);

 private:
  Model() = default;
  photonic::v1::ModelSpec spec_;
  Realisation realisation_ = Realisation::kOptical;
  std::vector<std::unique_ptr<ModelLayer>> layers_;
};

// The optical linear map a layer runs on SVD cores (itself, or a
// convolution's kernel), or null for an electronic layer.
const OpticalLinear* OpticalMap(const ModelLayer& layer);

// Fraction of rows whose largest logit is the label.
double ArgmaxAccuracy(const Eigen::MatrixXd& logits, std::span<const int> labels);

}  // namespace phc::trainers::onn
