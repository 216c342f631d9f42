// dfa sessions: a digital network trained by direct feedback alignment, its
// feedback products B e computed digitally, by a noise model, or by the
// chip's microring weight bank (calibrated and programmed here).
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "phc/trainers/dfa_run.h"
#include "session_runs.h"

namespace phc::trainers::runs {
namespace {

using photonic::v1::SessionConfig;

DfaConfig DfaFrom(const SessionConfig& c) {
  const photonic::v1::TrainingAlgorithm& a = c.algorithm();
  DfaConfig d;
  d.widths.assign(c.widths().begin(), c.widths().end());
  if (!a.feedback().empty()) d.feedback = a.feedback();
  if (a.learning_rate() != 0.0) d.learning_rate = a.learning_rate();
  if (a.momentum() != 0.0) d.momentum = a.momentum();
  if (a.has_feedback_noise_mean()) d.noise_mean = a.feedback_noise_mean();
  if (a.has_feedback_noise_std()) d.noise_std = a.feedback_noise_std();
  d.batch_size = c.batch_size();
  d.max_steps = c.max_steps();
  d.target_accuracy = c.target_accuracy();
  d.eval_every = c.eval_every();
  d.eval_samples = c.test_samples();
  d.seed = c.seed();
  return d;
}

}  // namespace

absl::Status ValidateDfa(const SessionConfig& c, const photonic::v1::ChipDescription& chip,
                         const photonsim::ChipLayout& layout) {
  if (absl::Status s = ValidateDfaConfig(DfaFrom(c)); !s.ok()) return s;
  if (c.algorithm().feedback() != "microring") return absl::OkStatus();
  const photonic::v1::MicroringBankCircuit* bank = SingleWeightBank(layout);
  if (bank == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("algorithm.feedback = \"microring\" needs a microring weight-bank chip; ",
                     chip.name(), " is not one"));
  }
  int hidden = 0;
  for (int i = 1; i + 1 < c.widths_size(); ++i) hidden += c.widths(i);
  if (static_cast<int>(bank->channels()) != c.widths(c.widths_size() - 1) ||
      static_cast<int>(bank->rows()) != hidden) {
    return absl::InvalidArgumentError(
        absl::StrCat("widths: microring feedback needs classes = the bank's ", bank->channels(),
                     " channels and hidden units summing to its ", bank->rows(), " rows"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StartedRun> CreateDfa(const SessionConfig& c, RunChip& chip,
                                     const RunOptions& options) {
  const DfaConfig config = DfaFrom(c);
  // A checkpoint that does not fit is refused before the bank is
  // calibrated and programmed.
  if (options.resume_from != nullptr) {
    if (absl::Status s = DfaRun::CheckCheckpoint(config, *options.resume_from); !s.ok()) return s;
  }
  // dfa sessions count their chip time and heater energy from here, the
  // data's loading included.
  chip.StartAccounting();
  RunResources resources;
  absl::StatusOr<TrainTestSplit> data =
      LoadDfaData(c.dataset(), config.widths.front(), config.widths.back(), c.train_samples(),
                  c.test_samples(), c.seed(), options.fashion_mnist_dir);
  if (!data.ok()) return data.status();
  resources.data = std::make_unique<TrainTestSplit>(*std::move(data));
  const TrainTestSplit& split = *resources.data;
  NoteDataLoaded(options, split);
  WeightBankDevice* bank = nullptr;
  if (config.feedback == "microring") {
    absl::StatusOr<WeightBankDevice*> opened = chip.weight_bank();
    if (!opened.ok()) return opened.status();
    bank = *opened;
  }
  absl::StatusOr<std::unique_ptr<DfaRun>> created =
      DfaRun::Create(config, split.train, split.test, bank, [&](double fraction) {
        Note(options, absl::StrFormat("weight bank %.0f%%", 100 * fraction));
      });
  if (!created.ok()) return created.status();
  std::unique_ptr<DfaRun> run = *std::move(created);
  if (bank != nullptr) {
    Note(options,
         absl::StrFormat("B programmed, weight rms error %.4f", run->bank_report().rms_error));
  }
  DfaRun* dfa = run.get();
  return Started(std::move(resources), std::move(run), &chip, dfa->parameter_count(), options,
                 [&] { return dfa->Evaluate(split.test, c.test_samples()); });
}

}  // namespace phc::trainers::runs
