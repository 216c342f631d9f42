#include "phc/trainers/onn/model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "phc/base/check.h"
#include "phc/proto/text_proto.h"
#include "phc/trainers/diff/layers.h"

namespace phc::trainers::onn {
namespace {

using photonic::v1::LayerSpec;
using photonic::v1::ModelSpec;

constexpr int kDatasetSide = 28;

// The shape of the values flowing between layers: an image (channels x
// height x width) until the first linear layer, then a flat vector.
struct Shape {
  int channels = 1;
  int height = 0;
  int width = 0;
  bool image = true;
  int size() const { return channels * height * width; }
};

constexpr std::int64_t kMaxWidth = 1 << 22;         // values between layers
constexpr std::int64_t kMaxLayerWeights = 1 << 24;  // one layer's weight matrix
constexpr std::int64_t kMaxLayerCores = 1 << 14;    // one layer's SVD cores

absl::Status LayerError(int index, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("model layer ", index, ": ", what));
}

// Walks the layers as Build does, checking each against the shape before it.
absl::StatusOr<std::vector<Shape>> Shapes(const ModelSpec& spec) {
  const int side = ImageSide(spec);
  std::vector<Shape> shapes{{.channels = 1, .height = side, .width = side}};
  for (int i = 0; i < spec.layers_size(); ++i) {
    const LayerSpec& layer = spec.layers(i);
    Shape in = shapes.back();
    Shape out = in;
    switch (layer.kind_case()) {
      case LayerSpec::kLinear:
        if (layer.linear().outputs() < 1 || layer.linear().outputs() > 4096)
          return LayerError(i, absl::StrCat("linear outputs must be in [1, 4096], got ",
                                            layer.linear().outputs()));
        out = {.channels = 1,
               .height = 1,
               .width = static_cast<int>(layer.linear().outputs()),
               .image = false};
        break;
      case LayerSpec::kConv: {
        const auto& conv = layer.conv();
        if (!in.image)
          return LayerError(i, "a convolution needs an image (it follows a linear layer)");
        if (conv.channels() < 1 || conv.channels() > 1024)
          return LayerError(
              i, absl::StrCat("conv channels must be in [1, 1024], got ", conv.channels()));
        const std::uint32_t smaller_side =
            static_cast<std::uint32_t>(std::min(in.height, in.width));
        if (conv.padding() >= conv.kernel() || conv.padding() > smaller_side)
          return LayerError(
              i, absl::StrCat("conv padding ", conv.padding(), " must be smaller than the kernel ",
                              conv.kernel(), " and at most the image side ", smaller_side));
        if (conv.kernel() < 1 || conv.kernel() > smaller_side + 2 * conv.padding())
          return LayerError(
              i, absl::StrCat("conv kernel ", conv.kernel(), " does not fit a ", in.height, "x",
                              in.width, " image with padding ", conv.padding()));
        if (conv.stride() > smaller_side)
          return LayerError(i, absl::StrCat("conv stride ", conv.stride(),
                                            " must be at most the image side ", smaller_side));
        const int stride = conv.stride() == 0 ? 1 : static_cast<int>(conv.stride());
        const ConvGeometry g{.in_channels = in.channels,
                             .height = in.height,
                             .width = in.width,
                             .kernel = static_cast<int>(conv.kernel()),
                             .stride = stride,
                             .padding = static_cast<int>(conv.padding())};
        out = {.channels = static_cast<int>(conv.channels()),
               .height = g.out_height(),
               .width = g.out_width()};
        break;
      }
      case LayerSpec::kRelu:
        if (!std::isfinite(layer.relu().clip()) || layer.relu().clip() < 0)
          return LayerError(
              i, absl::StrCat("relu clip must be finite and >= 0, got ", layer.relu().clip()));
        break;
      case LayerSpec::kAvgPool: {
        const int size = static_cast<int>(layer.avg_pool().size());
        if (!in.image) return LayerError(i, "pooling needs an image (it follows a linear layer)");
        if (size < 1 || size > std::min(in.height, in.width))
          return LayerError(i, absl::StrCat("pool size ", size, " does not fit a ", in.height, "x",
                                            in.width, " image"));
        out.height = in.height / size;
        out.width = in.width / size;
        break;
      }
      case LayerSpec::KIND_NOT_SET:
        return LayerError(i, "no layer kind set");
    }
    // Bounds that keep every width, weight count and core count far from
    // int overflow and the model within memory.
    const std::int64_t in_size = static_cast<std::int64_t>(in.channels) * in.height * in.width;
    const std::int64_t out_size = static_cast<std::int64_t>(out.channels) * out.height * out.width;
    if (out_size < 1 || out_size > kMaxWidth)
      return LayerError(
          i, absl::StrCat("output width ", out_size, " is outside [1, ", kMaxWidth, "]"));
    const std::int64_t weights =
        layer.has_conv() ? in.channels * static_cast<std::int64_t>(layer.conv().kernel()) *
                               layer.conv().kernel() * layer.conv().channels()
                         : (layer.has_linear() ? in_size * out_size : 0);
    if (weights > kMaxLayerWeights)
      return LayerError(
          i, absl::StrCat(weights, " weights; at most ", kMaxLayerWeights, " per layer"));
    if (layer.has_linear() || layer.has_conv()) {
      const std::int64_t k = std::max<std::uint32_t>(2, spec.core_size());
      const std::int64_t map_in = layer.has_conv() ? weights / layer.conv().channels() : in_size;
      const std::int64_t map_out = layer.has_conv() ? layer.conv().channels() : out_size;
      const std::int64_t cores = ((map_in + k - 1) / k) * ((map_out + k - 1) / k);
      if (cores > kMaxLayerCores)
        return LayerError(i, absl::StrCat(cores, " cores of ", k, "x", k, "; at most ",
                                          kMaxLayerCores, " per layer"));
    }
    shapes.push_back(out);
  }
  return shapes;
}

// Area-weighted resampling of a side x side image onto `target` x `target`
// (target < side): each output pixel averages the input area it covers.
Eigen::VectorXd AreaAverage(const Eigen::VectorXd& image, int side, int target) {
  const double scale = static_cast<double>(side) / target;
  Eigen::VectorXd out = Eigen::VectorXd::Zero(target * target);
  auto overlap = [&](int out_index, int in_index) {
    const double lo = std::max(out_index * scale, static_cast<double>(in_index));
    const double hi = std::min((out_index + 1) * scale, static_cast<double>(in_index + 1));
    return std::max(0.0, hi - lo);
  };
  for (int oy = 0; oy < target; ++oy) {
    for (int ox = 0; ox < target; ++ox) {
      double sum = 0.0;
      for (int y = static_cast<int>(oy * scale);
           y < std::min(side, static_cast<int>(std::ceil((oy + 1) * scale))); ++y) {
        const double wy = overlap(oy, y);
        for (int x = static_cast<int>(ox * scale);
             x < std::min(side, static_cast<int>(std::ceil((ox + 1) * scale))); ++x) {
          sum += wy * overlap(ox, x) * image(y * side + x);
        }
      }
      out(oy * target + ox) = sum / (scale * scale);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ModelSpec> LoadModelSpec(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read model file ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  ModelSpec spec;
  if (absl::Status status = ParseTextProto(text.str(), path.string(), spec); !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateModelSpec(spec); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", status.message()));
  }
  return spec;
}

int ImageSide(const ModelSpec& spec) {
  return spec.input().image_size() == 0 ? kDatasetSide
                                        : static_cast<int>(spec.input().image_size());
}

int ClassCount(const ModelSpec& spec) {
  return spec.input().classes() == 0 ? 10 : static_cast<int>(spec.input().classes());
}

absl::Status ValidateModelSpec(const ModelSpec& spec) {
  if (spec.input().dataset() != "fashion-mnist" && spec.input().dataset() != "synthetic") {
    return absl::InvalidArgumentError(
        absl::StrCat("model input dataset must be \"fashion-mnist\" or \"synthetic\", got \"",
                     spec.input().dataset(), "\""));
  }
  if (spec.input().image_size() > 128 || spec.input().image_size() == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model image_size must be in [2, 128], got ", spec.input().image_size()));
  }
  if (spec.input().classes() == 1 || spec.input().classes() > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("model classes must be in [2, 10], got ", spec.input().classes()));
  }
  if (spec.core_size() < 2 || spec.core_size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("model core_size must be in [2, 64], got ", spec.core_size()));
  }
  if (spec.layers().empty()) return absl::InvalidArgumentError("model has no layers");
  const absl::StatusOr<std::vector<Shape>> shapes = Shapes(spec);
  if (!shapes.ok()) return shapes.status();
  const LayerSpec& last = spec.layers(spec.layers_size() - 1);
  if (!last.has_linear() || static_cast<int>(last.linear().outputs()) != ClassCount(spec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the last model layer must be linear with one output per class (", ClassCount(spec), ")"));
  }
  return absl::OkStatus();
}

Dataset ImagesForModel(const ImageSet& images, const ModelSpec& spec) {
  const int classes = ClassCount(spec);
  const int side = ImageSide(spec);
  std::vector<int> kept;
  for (int i = 0; i < static_cast<int>(images.labels.size()); ++i) {
    if (images.labels[i] < classes) kept.push_back(i);
  }
  Dataset data;
  data.classes = classes;
  data.features.setZero(static_cast<Eigen::Index>(kept.size()), side * side);
  const int source = images.rows;
  for (std::size_t n = 0; n < kept.size(); ++n) {
    const Eigen::VectorXd image = images.pixels.row(kept[n]).transpose() / 255.0;
    if (side == source) {
      data.features.row(n) = image.transpose();
    } else if (side < source) {
      data.features.row(n) = AreaAverage(image, source, side).transpose();
    } else {
      const int pad = (side - source) / 2;
      for (int y = 0; y < source; ++y) {
        data.features.row(n).segment((y + pad) * side + pad, source) =
            image.segment(y * source, source).transpose();
      }
    }
    data.labels.push_back(images.labels[kept[n]]);
  }
  return data;
}

absl::StatusOr<ModelData> LoadModelData(const ModelSpec& spec,
                                        const std::filesystem::path& fashion_mnist_dir,
                                        int train_limit, int test_limit) {
  const int side = ImageSide(spec);
  if (spec.input().dataset() == "synthetic") {
    return ModelData{.train = MakeClusters(train_limit > 0 ? train_limit : 600, side * side,
                                           ClassCount(spec), 0.15, 1, 0),
                     .test = MakeClusters(test_limit > 0 ? test_limit : 300, side * side,
                                          ClassCount(spec), 0.15, 1, 1)};
  }
  absl::StatusOr<FashionMnist> images =
      LoadFashionMnist(fashion_mnist_dir, train_limit, test_limit);
  if (!images.ok()) return images.status();
  return ModelData{.train = ImagesForModel(images->train, spec),
                   .test = ImagesForModel(images->test, spec)};
}

absl::StatusOr<Model> Model::Build(const ModelSpec& spec, Realisation realisation,
                                   std::uint64_t seed) {
  if (absl::Status status = ValidateModelSpec(spec); !status.ok()) return status;
  const std::vector<Shape> shapes = *Shapes(spec);
  std::mt19937_64 rng(seed);
  const int k = static_cast<int>(spec.core_size());
  auto linear = [&](int inputs, int outputs, bool digital) -> std::unique_ptr<ModelLayer> {
    if (digital || realisation == Realisation::kDigital) {
      return std::make_unique<DigitalLinear>(inputs, outputs, rng);
    }
    return std::make_unique<OpticalLinear>(inputs, outputs, k, rng);
  };
  Model model;
  model.spec_ = spec;
  model.realisation_ = realisation;
  for (int i = 0; i < spec.layers_size(); ++i) {
    const LayerSpec& layer = spec.layers(i);
    const Shape& in = shapes[i];
    const Shape& out = shapes[i + 1];
    switch (layer.kind_case()) {
      case LayerSpec::kLinear:
        model.layers_.push_back(linear(in.size(), out.size(), layer.linear().digital()));
        break;
      case LayerSpec::kConv: {
        const ConvGeometry g{
            .in_channels = in.channels,
            .height = in.height,
            .width = in.width,
            .kernel = static_cast<int>(layer.conv().kernel()),
            .stride = layer.conv().stride() == 0 ? 1 : static_cast<int>(layer.conv().stride()),
            .padding = static_cast<int>(layer.conv().padding())};
        model.layers_.push_back(std::make_unique<Conv2d>(
            g, linear(g.patch_size(), out.channels, layer.conv().digital())));
        break;
      }
      case LayerSpec::kRelu:
        model.layers_.push_back(std::make_unique<ClippedRelu>(in.size(), layer.relu().clip()));
        break;
      case LayerSpec::kAvgPool:
        model.layers_.push_back(std::make_unique<AvgPool>(
            in.channels, in.height, in.width, static_cast<int>(layer.avg_pool().size())));
        break;
      case LayerSpec::KIND_NOT_SET:
        break;  // refused by ValidateModelSpec
    }
  }
  return model;
}

const OpticalLinear* OpticalMap(const ModelLayer& layer) {
  if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) {
    return dynamic_cast<const OpticalLinear*>(&conv->kernel_map());
  }
  return dynamic_cast<const OpticalLinear*>(&layer);
}

int Model::core_count() const {
  int cores = 0;
  for (const auto& layer : layers_) {
    if (const OpticalLinear* optical = OpticalMap(*layer))
      cores += static_cast<int>(optical->blocks().size());
  }
  return cores;
}

int Model::phase_count() const {
  return core_count() * SvdCore::PhaseCount(static_cast<int>(spec_.core_size()));
}

Eigen::MatrixXd Model::Forward(const Eigen::MatrixXd& features, std::size_t first_layer) {
  PHC_CHECK(first_layer < layers_.size());
  Eigen::MatrixXd x = features;
  for (std::size_t i = first_layer; i < layers_.size(); ++i) x = layers_[i]->Forward(x);
  return x;
}

double Model::LossAndGradients(const Eigen::MatrixXd& features, std::span<const int> labels,
                               Eigen::MatrixXd* logits, std::size_t first_layer) {
  Eigen::MatrixXd out = Forward(features, first_layer);
  Eigen::MatrixXd delta;
  const double loss = diff::SoftmaxCrossEntropy(out, labels, &delta);
  if (logits != nullptr) *logits = std::move(out);
  Backward(delta, first_layer);
  return loss;
}

void Model::Backward(const Eigen::MatrixXd& d_loss_d_logits, std::size_t first_layer) {
  PHC_CHECK(first_layer < layers_.size());
  for (auto& layer : layers_) {
    for (double& g : layer->gradients()) g = 0.0;
  }
  Eigen::MatrixXd delta = d_loss_d_logits;
  // The first layer's input gradient is not needed (it would be the frozen
  // frontend's or the images'), but the layers compute it with their weights'.
  for (std::size_t i = layers_.size(); i-- > first_layer;) delta = layers_[i]->Backward(delta);
}

int Model::FirstParameter(std::size_t layer) const {
  PHC_CHECK(layer <= layers_.size());
  int first = 0;
  for (std::size_t i = 0; i < layer; ++i)
    first += static_cast<int>(layers_[i]->parameters().size());
  return first;
}

void Model::SetPhaseNoise(double std_rad, std::mt19937_64* rng) {
  for (auto& layer : layers_) layer->SetPhaseNoise(std_rad, rng);
}

int Model::parameter_count() const {
  int count = 0;
  for (const auto& layer : layers_) count += static_cast<int>(layer->parameters().size());
  return count;
}

Eigen::VectorXd Model::Parameters() const {
  Eigen::VectorXd all(parameter_count());
  int at = 0;
  for (const auto& layer : layers_) {
    for (const double p : layer->parameters()) all(at++) = p;
  }
  return all;
}

void Model::SetParameters(const Eigen::VectorXd& parameters) {
  PHC_CHECK(parameters.size() == parameter_count());
  int at = 0;
  for (auto& layer : layers_) {
    for (double& p : layer->parameters()) p = parameters(at++);
  }
}

Eigen::VectorXd Model::Gradients() const {
  Eigen::VectorXd all(parameter_count());
  int at = 0;
  for (const auto& layer : layers_) {
    for (const double g : layer->gradients()) all(at++) = g;
  }
  return all;
}

void Model::SetGradients(const Eigen::VectorXd& gradients) {
  PHC_CHECK(gradients.size() == parameter_count());
  int at = 0;
  for (auto& layer : layers_) {
    for (double& g : layer->gradients()) g = gradients(at++);
  }
}

double ArgmaxAccuracy(const Eigen::MatrixXd& logits, std::span<const int> labels) {
  if (logits.rows() == 0) return 0.0;
  int correct = 0;
  for (Eigen::Index r = 0; r < logits.rows(); ++r) {
    Eigen::Index best = 0;
    logits.row(r).maxCoeff(&best);
    correct += best == labels[r];
  }
  return static_cast<double>(correct) / static_cast<double>(logits.rows());
}

}  // namespace phc::trainers::onn
