// Classification datasets for the trainers. Features fed to a chip lie in
// [0, 1]: the field amplitudes its input modulators can encode.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace phc::trainers {

struct Dataset {
  Eigen::MatrixXd features;  // one sample per row, entries in [0, 1]
  std::vector<int> labels;   // in [0, classes)
  int classes = 0;

  int size() const { return static_cast<int>(labels.size()); }
  int feature_count() const { return static_cast<int>(features.cols()); }
};

// Minibatches that walk a fresh permutation of the training set each epoch.
// The permutation is a function of the seed and the epoch, so a run resumed
// at step n sees the same minibatches as one that never stopped.
class EpochMinibatches {
 public:
  // REQUIRES: batch_size >= 1; `data` outlives this.
  EpochMinibatches(const Dataset& data, int batch_size, std::uint64_t seed);
  // The minibatch of step `step` (0-based); the last of an epoch may be short.
  Dataset At(std::int64_t step);

 private:
  const Dataset& data_;
  int batch_size_;
  std::uint64_t seed_;
  std::int64_t epoch_ = -1;
  std::vector<int> order_;
};

// 8-bit images as read from an IDX file pair, one image per row, 0..255.
struct ImageSet {
  Eigen::MatrixXd pixels;
  int rows = 0;
  int cols = 0;
  std::vector<int> labels;
};

// Reads an IDX3 image file and its IDX1 label file (plain or .gz). At most
// `limit` samples when limit > 0. NOT_FOUND / DATA_LOSS with the path on
// missing or malformed files.
absl::StatusOr<ImageSet> LoadIdx(const std::filesystem::path& images,
                                 const std::filesystem::path& labels, int limit = 0);

// Input reduction for small meshes (as FLOPS and the sparse-ZO paper do):
// the magnitudes of each image's `count` lowest 2-D spatial frequencies,
// ordered by radius (DC first; ties: lower row frequency first), unscaled
// (pixels in [0, 1]): follow with ScaleFeaturesLike.
Dataset ReduceByLowFrequencies(const ImageSet& images, int count, int classes = 10);

// Maps every feature of `data` linearly so that the range it has in
// `reference` (the training set) becomes [0, 1], clamping outliers: the
// amplitudes a modulator can send.
void ScaleFeaturesLike(const Dataset& reference, Dataset& data);

// Keeps only samples whose label is below `classes`.
Dataset FirstClasses(const Dataset& data, int classes);

// A small, learnable synthetic set for tests: `classes` Gaussian clusters of
// non-negative features around random prototypes (drawn from `seed`).
// sample_stream 0 draws the samples right after the prototypes; another
// value draws them from a separate stream (a test set: same prototypes,
// different samples).
Dataset MakeClusters(int samples, int features, int classes, double spread, std::uint64_t seed,
                     std::uint64_t sample_stream = 0);

// Where Fashion-MNIST is read from (its four gzipped IDX files):
// `configured` when not empty (the daemon's fashion_mnist_dir), else the
// PHC_FASHION_MNIST_DIR environment variable when set and not empty, else
// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
inline constexpr char kFashionMnistDirVariable[] = "PHC_FASHION_MNIST_DIR";
std::filesystem::path FashionMnistDir(const std::filesystem::path& configured = {});

struct FashionMnist {
  ImageSet train;
  ImageSet test;
};

// The training and test images of FashionMnistDir(dir), at most
// train_limit / test_limit of each (0: all). NOT_FOUND naming the directory
// tried when a file is missing; DATA_LOSS for a malformed file.
absl::StatusOr<FashionMnist> LoadFashionMnist(const std::filesystem::path& dir, int train_limit,
                                              int test_limit);

}  // namespace phc::trainers
