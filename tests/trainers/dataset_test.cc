#include "phc/trainers/dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <optional>
#include <string>

#include "phc/trainers/algorithms.h"
#include "phc/trainers/dfa_run.h"

namespace phc::trainers {
namespace {

void PutBigEndian32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((v >> shift) & 0xff);
}

// Writes `images` (rows x cols bytes each) and labels as an IDX pair.
void WriteIdx(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
              const std::vector<std::vector<unsigned char>>& images, int rows, int cols,
              const std::vector<unsigned char>& labels, bool gzip) {
  std::vector<unsigned char> ib, lb;
  PutBigEndian32(ib, 0x803);
  PutBigEndian32(ib, static_cast<std::uint32_t>(images.size()));
  PutBigEndian32(ib, rows);
  PutBigEndian32(ib, cols);
  for (const auto& image : images) ib.insert(ib.end(), image.begin(), image.end());
  PutBigEndian32(lb, 0x801);
  PutBigEndian32(lb, static_cast<std::uint32_t>(labels.size()));
  lb.insert(lb.end(), labels.begin(), labels.end());
  for (const auto& [path, bytes] : {std::pair{images_path, ib}, std::pair{labels_path, lb}}) {
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    }
  }
}

class IdxTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdxTest, ReadsImagesAndLabelsPlainOrGzipped) {
  const auto dir = std::filesystem::path(::testing::TempDir());
  // ctest runs the two parameters in parallel: one file pair each.
  const std::string suffix = GetParam() ? ".gz" : "";
  const auto images = dir / ("img.idx" + suffix), labels = dir / ("lbl.idx" + suffix);
  WriteIdx(images, labels, {{0, 1, 2, 3, 4, 5}, {250, 251, 252, 253, 254, 255}}, 2, 3, {7, 2},
           GetParam());
  const absl::StatusOr<ImageSet> set = LoadIdx(images, labels);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->rows, 2);
  EXPECT_EQ(set->cols, 3);
  ASSERT_EQ(set->pixels.rows(), 2);
  EXPECT_EQ(set->pixels(0, 5), 5);
  EXPECT_EQ(set->pixels(1, 0), 250);
  EXPECT_EQ(set->labels, (std::vector<int>{7, 2}));
  EXPECT_EQ(LoadIdx(images, labels, 1)->pixels.rows(), 1);
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxTest, ::testing::Bool());

TEST(IdxTest, MismatchedCountsAndMissingFilesAreClearErrors) {
  const auto dir = std::filesystem::path(::testing::TempDir());
  const auto images = dir / "img2.idx", labels = dir / "lbl2.idx";
  WriteIdx(images, labels, {{1, 2, 3, 4}}, 2, 2, {1, 2}, false);
  const absl::Status mismatch = LoadIdx(images, labels).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(mismatch.message().find("labels"), std::string::npos) << mismatch;
  EXPECT_EQ(LoadIdx(dir / "absent", labels).status().code(), absl::StatusCode::kNotFound);
  // An image file given as the label file has the wrong magic number.
  EXPECT_EQ(LoadIdx(images, images).status().code(), absl::StatusCode::kDataLoss);
}

TEST(LowFrequencyTest, MatchesTheAnalyticSpectrumOfACosineImage) {
  // I(r, c) = (1 + cos(2 pi c / 8)) / 2: |F(0,0)| = 32, |F(0,1)| = 16, others 0.
  ImageSet set;
  set.rows = 8;
  set.cols = 8;
  // Image 0 is black, image 1 the cosine, image 2 white: every row of the
  // (column-major) pixel matrix must be read as its own image.
  set.pixels = Eigen::MatrixXd::Zero(3, 64);
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c) {
      set.pixels(1, r * 8 + c) = 127.5 * (1.0 + std::cos(2 * std::numbers::pi * c / 8));
      set.pixels(2, r * 8 + c) = 255;
    }
  }
  set.labels = {0, 3, 1};
  const Dataset data = ReduceByLowFrequencies(set, 9);
  ASSERT_EQ(data.feature_count(), 9);
  // Order (0,0), (0,1), (1,0), (1,1), (0,2), ...; pixels scaled to [0, 1].
  EXPECT_NEAR(data.features(1, 0), 32.0, 1e-12);
  EXPECT_NEAR(data.features(1, 1), 16.0, 1e-12);
  for (int f = 2; f < 9; ++f) EXPECT_NEAR(data.features(1, f), 0.0, 1e-12) << f;
  EXPECT_NEAR(data.features(0, 0), 0.0, 1e-12);
  EXPECT_NEAR(data.features(2, 0), 64.0, 1e-12);
  EXPECT_EQ(data.labels, (std::vector<int>{0, 3, 1}));
}

TEST(ScaleFeaturesTest, MapsTheReferenceRangeToTheUnitIntervalAndClamps) {
  Dataset reference, other;
  reference.features.resize(2, 2);
  reference.features << 1.0, 5.0, 3.0, 5.0;
  other.features.resize(1, 2);
  other.features << 4.0, 7.0;
  ScaleFeaturesLike(reference, other);
  EXPECT_DOUBLE_EQ(other.features(0, 0), 1.0);  // 4 is above the range [1, 3]: clamped
  EXPECT_DOUBLE_EQ(other.features(0, 1), 1.0);  // constant feature: shifted, clamped
  ScaleFeaturesLike(reference, reference);
  EXPECT_DOUBLE_EQ(reference.features(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(reference.features(1, 0), 1.0);
}

// Sets an environment variable for one test, then puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Fashion-MNIST in miniature under TempDir()/name: 28 x 28 images, image i
// of label i % 10 with one lit row that depends on its label.
std::filesystem::path WriteTinyFashionMnist(const std::string& name, int train, int test) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::create_directories(dir);
  for (const auto& [prefix, count] :
       {std::pair{std::string("train"), train}, std::pair{std::string("t10k"), test}}) {
    std::vector<std::vector<unsigned char>> images;
    std::vector<unsigned char> labels;
    for (int i = 0; i < count; ++i) {
      const int label = i % 10;
      std::vector<unsigned char> image(28 * 28, 0);
      for (int c = 0; c < 28; ++c) {
        image[(2 * label + 1) * 28 + c] = static_cast<unsigned char>(100 + 10 * label + i % 7);
      }
      images.push_back(std::move(image));
      labels.push_back(static_cast<unsigned char>(label));
    }
    WriteIdx(dir / (prefix + "-images-idx3-ubyte.gz"), dir / (prefix + "-labels-idx1-ubyte.gz"),
             images, 28, 28, labels, true);
  }
  return dir;
}

TEST(FashionMnistTest, DirectoryIsTheConfiguredOneElseTheEnvironmentsElseDebians) {
  {
    ScopedEnv env(kFashionMnistDirVariable, "/from/environment");
    EXPECT_EQ(FashionMnistDir("/from/config"), "/from/config");
    EXPECT_EQ(FashionMnistDir(), "/from/environment");
  }
  ScopedEnv empty(kFashionMnistDirVariable, "");
  EXPECT_EQ(FashionMnistDir(), "/usr/share/datasets/fashion-mnist");
}

TEST(FashionMnistTest, LoadersReadTheDirectoryTheEnvironmentNames) {
  const auto dir = WriteTinyFashionMnist("fashion-mnist-from-environment", 40, 20);
  ScopedEnv env(kFashionMnistDirVariable, dir.string());
  // Two classes: 8 of the first 40 training images, 4 of the first 20 test images.
  const absl::StatusOr<TrainTestSplit> reduced = LoadTrainingData("fashion-mnist", 4, 2, 8, 4, 1);
  ASSERT_TRUE(reduced.ok()) << reduced.status();
  EXPECT_EQ(reduced->source, "fashion-mnist");
  EXPECT_EQ(reduced->train.size(), 8);
  EXPECT_EQ(reduced->test.size(), 4);
  EXPECT_EQ(reduced->train.feature_count(), 4);
  for (int label : reduced->train.labels) EXPECT_LT(label, 2);
  const absl::StatusOr<TrainTestSplit> pixels = LoadDfaData("fashion-mnist", 784, 2, 8, 4, 1);
  ASSERT_TRUE(pixels.ok()) << pixels.status();
  EXPECT_EQ(pixels->train.feature_count(), 784);
  EXPECT_EQ(pixels->train.labels, reduced->train.labels);
}

TEST(FashionMnistTest, AMissingDirectoryIsNamedInTheError) {
  // The configured directory wins over the environment's (which has data).
  const auto present = WriteTinyFashionMnist("fashion-mnist-present", 20, 10);
  ScopedEnv env(kFashionMnistDirVariable, present.string());
  const auto missing = std::filesystem::path(::testing::TempDir()) / "no-fashion-mnist-here";
  const absl::Status reduced = LoadTrainingData("fashion-mnist", 4, 2, 8, 4, 1, missing).status();
  EXPECT_EQ(reduced.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(reduced.message().find("Fashion-MNIST is not in " + missing.string()),
            std::string::npos)
      << reduced;
  EXPECT_NE(reduced.message().find(kFashionMnistDirVariable), std::string::npos) << reduced;
  const absl::Status pixels = LoadDfaData("fashion-mnist", 784, 2, 8, 4, 1, missing).status();
  EXPECT_EQ(pixels.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(pixels.message().find(missing.string()), std::string::npos) << pixels;
}

TEST(ClustersTest, FeaturesAreValidAmplitudesAndClassesAreBalanced) {
  const Dataset data = MakeClusters(40, 6, 4, 0.1, 3);
  EXPECT_EQ(data.size(), 40);
  EXPECT_EQ(data.classes, 4);
  EXPECT_GE(data.features.minCoeff(), 0.0);
  EXPECT_LE(data.features.maxCoeff(), 1.0);
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(std::count(data.labels.begin(), data.labels.end(), c), 10);
  }
  const Dataset two = FirstClasses(data, 2);
  EXPECT_EQ(two.size(), 20);
  for (int label : two.labels) EXPECT_LT(label, 2);
}

}  // namespace
}  // namespace phc::trainers
