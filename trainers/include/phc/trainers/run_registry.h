// Training runs by algorithm name, as a training session asks for them: a
// photonic.v1.SessionConfig in, a Run out. Each algorithm registers how to
// check its config against a chip design (before any data is loaded or the
// chip touched) and how to build its run on a chip: load the data, build the
// model, pretrain where the method does, or restore a checkpoint. Adding an
// algorithm touches trainers/ (its run and its registry entry) and the
// proto's config fields only; the daemon drives every run the same way.
//
// Thread safety: the registry itself is immutable. A RunChip and the runs
// built on it follow the host's thread rules (the daemon: its hardware
// thread).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "phc/trainers/chip_oracle.h"
#include "phc/trainers/onn/chip_execution.h"
#include "phc/trainers/onn/model.h"
#include "phc/trainers/run.h"
#include "phc/trainers/weight_bank.h"
#include "photonic/v1/config.pb.h"
#include "photonic/v1/training.pb.h"
#include "photonsim/chip_layout.h"

namespace phc::trainers {

// A stored model placed on the chip as Deploy places it, with the
// receivers' calibration of its deployment when it was programmed in situ.
struct ChipModel {
  onn::Model model;
  onn::ChipPlacement placement;
};

// The chip a run trains on, as its host provides it. The daemon implements
// it over its ChipController, the registry test over a ModelOracle.
class RunChip {
 public:
  virtual ~RunChip() = default;

  virtual const photonic::v1::ChipDescription& description() const = 0;
  // Phases, inputs and outputs of the chip, counted. Lives as long as this.
  virtual ChipOracle& oracle() = 0;
  // The chip's microring weight bank, opened on first use and living as
  // long as this; FAILED_PRECONDITION naming the chip when it is not one
  // bank.
  virtual absl::StatusOr<WeightBankDevice*> weight_bank() = 0;
  // Every phase on the chip now, rad.
  virtual std::vector<double> phases_rad() const = 0;
  // The host's stored model `model_id` (a from_model session's): NOT_FOUND
  // for an unknown id; with must_be_deployed, FAILED_PRECONDITION unless
  // the chip's phases are its deployment now. Hosts that keep no models
  // (the default) answer FAILED_PRECONDITION.
  virtual absl::StatusOr<ChipModel> model(const std::string& model_id, bool must_be_deployed);
  // The host's stored model `model_id` with its parameters, not placed on
  // the chip (an ntkd session's teacher, usually a digital twin): NOT_FOUND
  // for an unknown id; the default answers as model() does.
  virtual absl::StatusOr<onn::Model> stored_model(const std::string& model_id);
  // The chip's total heater power now, mW.
  virtual double heater_power_mw() const = 0;
  // Starts the accounting behind cost(): heater energy and instrument time
  // count from the first call on (later calls change nothing), so that the
  // host's work before it, loading the data above all, is not billed to the
  // chip (on real instruments the clock is wall time). Each algorithm's
  // create calls it once, before its run first queries or writes the chip:
  // after loading its data (dfa: before, as dfa sessions always have).
  virtual void StartAccounting() = 0;
  // What the runs on this chip have spent since StartAccounting(): oracle
  // queries and bank readings, phase writes, heater energy, instrument time
  // (all zero before).
  virtual OracleCost cost() const = 0;
};

struct RunOptions {
  // Resume: the run continues at its step with its parameters and optimizer
  // state, without pretraining or an initial evaluation.
  const RunCheckpoint* resume_from = nullptr;
  std::filesystem::path fashion_mnist_dir;  // empty: FashionMnistDir()
  // Notes for people while a run is built (the data loaded, pretraining,
  // calibration); may be empty.
  std::function<void(std::string_view note)> log;
};

struct StartedRun {
  std::unique_ptr<Run> run;  // refers to the RunChip it was built on
  int trained_parameters = 0;
  std::string dataset_source;  // "fashion-mnist" or "synthetic"
  // Test accuracy before the first step; -1 when resumed.
  double initial_test_accuracy = -1.0;
};

struct Algorithm {
  std::string_view name;
  // What can be checked without data or the chip: INVALID_ARGUMENT naming
  // the config field.
  absl::Status (*validate)(const photonic::v1::SessionConfig& config,
                           const photonic::v1::ChipDescription& chip,
                           const photonsim::ChipLayout& layout);
  // REQUIRES: validate(config, chip.description(), its layout).ok(). The
  // config has every default filled in (the daemon's WithDefaults). A
  // options.resume_from that does not fit the run is refused (DATA_LOSS)
  // before anything is written to the chip or measured on it.
  absl::StatusOr<StartedRun> (*create)(const photonic::v1::SessionConfig& config, RunChip& chip,
                                       const RunOptions& options);
};

// Every algorithm a session can run, in the order messages list them.
std::span<const Algorithm> Algorithms();
// Null for a name no algorithm has.
const Algorithm* FindAlgorithm(std::string_view name);

// The config with the sparse_zo names resolved: active_fraction,
// visit_fraction and prune_probability from their old names
// (param_sparsity, grad_sparsity, disable_power_aware) or their defaults,
// and both names set; step_decay 0.985 for a from_model sparse_zo session.
// Names that disagree are left for ValidateRun to refuse.
photonic::v1::SessionConfig WithSparseZoNames(const photonic::v1::SessionConfig& config);

// config.algorithm().name()'s validate; INVALID_ARGUMENT naming
// algorithm.name and listing the algorithms for an unknown name.
absl::Status ValidateRun(const photonic::v1::SessionConfig& config,
                         const photonic::v1::ChipDescription& chip,
                         const photonsim::ChipLayout& layout);
// config.algorithm().name()'s create (INVALID_ARGUMENT for an unknown name).
absl::StatusOr<StartedRun> CreateRun(const photonic::v1::SessionConfig& config, RunChip& chip,
                                     const RunOptions& options);

}  // namespace phc::trainers
