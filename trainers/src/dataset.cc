#include "phc/trainers/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <numbers>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace phc::trainers {
namespace {

// Whole file, gunzipped when it is gzip (zlib reads plain files too).
absl::StatusOr<std::vector<unsigned char>> ReadMaybeGzip(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  }
  // Straight into the vector, growing it geometrically: no chunk copies.
  constexpr std::size_t kChunk = 1 << 20;
  std::vector<unsigned char> bytes;
  std::size_t size = 0;
  int got = 0;
  do {
    if (bytes.size() < size + kChunk) bytes.resize(std::max(2 * bytes.size(), size + kChunk));
    got = gzread(file, bytes.data() + size, static_cast<unsigned>(kChunk));
    if (got > 0) size += static_cast<std::size_t>(got);
  } while (got > 0);
  bytes.resize(size);
  const bool failed = got < 0;
  gzclose(file);
  if (failed) return absl::DataLossError(absl::StrCat(path.string(), ": read error"));
  return bytes;
}

std::uint32_t BigEndian32(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}

void ScaleRowsToUnitMax(Eigen::MatrixXd& features) {
  for (Eigen::Index r = 0; r < features.rows(); ++r) {
    const double top = features.row(r).maxCoeff();
    if (top > 0) features.row(r) /= top;
  }
}

}  // namespace

absl::StatusOr<ImageSet> LoadIdx(const std::filesystem::path& images,
                                 const std::filesystem::path& labels, int limit) {
  absl::StatusOr<std::vector<unsigned char>> image_bytes = ReadMaybeGzip(images);
  if (!image_bytes.ok()) return image_bytes.status();
  absl::StatusOr<std::vector<unsigned char>> label_bytes = ReadMaybeGzip(labels);
  if (!label_bytes.ok()) return label_bytes.status();
  const std::vector<unsigned char>& ib = *image_bytes;
  const std::vector<unsigned char>& lb = *label_bytes;
  if (ib.size() < 16 || BigEndian32(ib, 0) != 0x00000803) {
    return absl::DataLossError(absl::StrCat(images.string(), " is not an IDX3 ubyte file"));
  }
  if (lb.size() < 8 || BigEndian32(lb, 0) != 0x00000801) {
    return absl::DataLossError(absl::StrCat(labels.string(), " is not an IDX1 ubyte file"));
  }
  const std::uint64_t count = BigEndian32(ib, 4);
  const std::uint64_t rows = BigEndian32(ib, 8), cols = BigEndian32(ib, 12);
  if (BigEndian32(lb, 4) != count) {
    return absl::DataLossError(absl::StrCat(images.string(), " has ", count, " images but ",
                                            labels.string(), " has ", BigEndian32(lb, 4),
                                            " labels"));
  }
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 ||
      ib.size() != 16 + count * rows * cols || lb.size() != 8 + count) {
    return absl::DataLossError(
        absl::StrCat(images.string(), ": sizes in the header do not match the file"));
  }
  const std::uint64_t kept =
      limit > 0 ? std::min<std::uint64_t>(count, static_cast<std::uint64_t>(limit)) : count;
  ImageSet set;
  set.rows = static_cast<int>(rows);
  set.cols = static_cast<int>(cols);
  set.pixels.resize(static_cast<Eigen::Index>(kept), static_cast<Eigen::Index>(rows * cols));
  set.labels.resize(kept);
  for (std::uint64_t s = 0; s < kept; ++s) {
    for (std::uint64_t p = 0; p < rows * cols; ++p) {
      set.pixels(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(p)) =
          ib[16 + s * rows * cols + p];
    }
    set.labels[s] = lb[8 + s];
  }
  return set;
}

Dataset ReduceByLowFrequencies(const ImageSet& images, int count, int classes) {
  // The lowest frequencies by radius (ties: row frequency first), from a
  // side x side corner of the spectrum. Only those coefficients are needed:
  // a direct DFT, separable in rows and columns, costs O(rows cols side).
  const int side = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  std::vector<std::pair<int, int>> order;
  for (int kr = 0; kr < side; ++kr) {
    for (int kc = 0; kc < side; ++kc) order.emplace_back(kr, kc);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first * a.first + a.second * a.second < b.first * b.first + b.second * b.second;
  });
  order.resize(count);
  const int rows = images.rows, cols = images.cols;
  using Complex = std::complex<double>;
  Eigen::MatrixXcd row_basis(side, rows), col_basis(cols, side);
  for (int k = 0; k < side; ++k) {
    for (int r = 0; r < rows; ++r) {
      row_basis(k, r) = std::polar(1.0, -2.0 * std::numbers::pi * k * r / rows);
    }
    for (int c = 0; c < cols; ++c) {
      col_basis(c, k) = std::polar(1.0, -2.0 * std::numbers::pi * k * c / cols);
    }
  }
  Dataset data;
  data.classes = classes;
  data.labels = images.labels;
  data.features.resize(images.pixels.rows(), count);
  for (Eigen::Index s = 0; s < images.pixels.rows(); ++s) {
    // A row of the column-major pixel matrix is strided: copy it before
    // viewing it as a row-major image.
    const Eigen::RowVectorXd pixels = images.pixels.row(s) / 255.0;
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
        image(pixels.data(), rows, cols);
    const Eigen::MatrixXcd spectrum = row_basis * image.cast<Complex>() * col_basis;
    for (int f = 0; f < count; ++f) {
      data.features(s, f) = std::abs(spectrum(order[f].first, order[f].second));
    }
  }
  return data;
}

void ScaleFeaturesLike(const Dataset& reference, Dataset& data) {
  for (Eigen::Index f = 0; f < data.features.cols(); ++f) {
    const double lo = reference.features.col(f).minCoeff();
    const double span = reference.features.col(f).maxCoeff() - lo;
    data.features.col(f) =
        ((data.features.col(f).array() - lo) / (span > 0 ? span : 1.0)).cwiseMax(0.0).cwiseMin(1.0);
  }
}

Dataset FirstClasses(const Dataset& data, int classes) {
  std::vector<Eigen::Index> keep;
  for (int i = 0; i < data.size(); ++i) {
    if (data.labels[i] < classes) keep.push_back(i);
  }
  Dataset out;
  out.classes = classes;
  out.features.resize(static_cast<Eigen::Index>(keep.size()), data.features.cols());
  for (std::size_t i = 0; i < keep.size(); ++i) {
    out.features.row(static_cast<Eigen::Index>(i)) = data.features.row(keep[i]);
    out.labels.push_back(data.labels[keep[i]]);
  }
  return out;
}

Dataset MakeClusters(int samples, int features, int classes, double spread, std::uint64_t seed,
                     std::uint64_t sample_stream) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, spread);
  Eigen::MatrixXd prototypes(classes, features);
  for (int c = 0; c < classes; ++c) {
    for (int f = 0; f < features; ++f) prototypes(c, f) = uniform(rng);
  }
  // The samples' noise from their own stream: a test set (stream 1) shares
  // the training set's prototypes but none of its samples.
  if (sample_stream != 0) rng.seed(seed ^ (0x9e3779b97f4a7c15ULL * sample_stream));
  Dataset data;
  data.classes = classes;
  data.features.resize(samples, features);
  data.labels.resize(samples);
  for (int s = 0; s < samples; ++s) {
    const int c = s % classes;
    data.labels[s] = c;
    for (int f = 0; f < features; ++f) {
      data.features(s, f) = std::max(0.0, prototypes(c, f) + noise(rng));
    }
  }
  ScaleRowsToUnitMax(data.features);
  return data;
}

std::filesystem::path FashionMnistDir(const std::filesystem::path& configured) {
  if (!configured.empty()) return configured;
  const char* variable = std::getenv(kFashionMnistDirVariable);
  if (variable != nullptr && variable[0] != '\0') return variable;
  return "/usr/share/datasets/fashion-mnist";
}

absl::StatusOr<FashionMnist> LoadFashionMnist(const std::filesystem::path& dir, int train_limit,
                                              int test_limit) {
  const std::filesystem::path from = FashionMnistDir(dir);
  auto load = [&](const char* images, const char* labels, int limit) -> absl::StatusOr<ImageSet> {
    absl::StatusOr<ImageSet> set = LoadIdx(from / images, from / labels, limit);
    if (set.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat(
          "Fashion-MNIST is not in ", from.string(), " (", set.status().message(), "; set ",
          kFashionMnistDirVariable,
          " or the daemon's fashion_mnist_dir, or apt-get install dataset-fashion-mnist)"));
    }
    return set;
  };
  absl::StatusOr<ImageSet> train =
      load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", train_limit);
  if (!train.ok()) return train.status();
  absl::StatusOr<ImageSet> test =
      load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", test_limit);
  if (!test.ok()) return test.status();
  return FashionMnist{*std::move(train), *std::move(test)};
}

EpochMinibatches::EpochMinibatches(const Dataset& data, int batch_size, std::uint64_t seed)
    : data_(data), batch_size_(batch_size), seed_(seed) {}

Dataset EpochMinibatches::At(std::int64_t step) {
  const std::int64_t per_epoch = (data_.size() + batch_size_ - 1) / batch_size_;
  const std::int64_t epoch = step / per_epoch;
  if (epoch != epoch_) {
    order_.resize(data_.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::mt19937_64 rng(seed_ * 1000003ULL + static_cast<std::uint64_t>(epoch));
    std::shuffle(order_.begin(), order_.end(), rng);
    epoch_ = epoch;
  }
  const int start = static_cast<int>(step % per_epoch) * batch_size_;
  const int end = std::min(start + batch_size_, data_.size());
  Dataset batch{Eigen::MatrixXd(end - start, data_.feature_count()), {}, data_.classes};
  for (int i = start; i < end; ++i) {
    batch.features.row(i - start) = data_.features.row(order_[i]);
    batch.labels.push_back(data_.labels[order_[i]]);
  }
  return batch;
}

}  // namespace phc::trainers
