#include "phc/trainers/zo_optimizers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>

#include "phc/trainers/model_oracle.h"
#include "phc/trainers/onn_model.h"
#include "phc/trainers/sparse_zo.h"
#include "phc/trainers/training_loop.h"
#include "tests/test_chips.h"

namespace phc::trainers {
namespace {

// f(x) = sum_i (x_i - c_i)^2 with c_i = 0.3 (i mod 5): minimum 0.
struct Quadratic {
  int evaluations = 0;
  LossFn loss() {
    return [this](std::span<const double> x) -> absl::StatusOr<double> {
      ++evaluations;
      double f = 0;
      for (std::size_t i = 0; i < x.size(); ++i) f += std::pow(x[i] - 0.3 * (i % 5), 2);
      return f;
    };
  }
};

double Value(const std::vector<double>& x) {
  Quadratic q;
  return *q.loss()(x);
}

TEST(ZoOptimizerTest, CoordinateZoReducesAQuadratic) {
  auto optimizer = MakeCoordinateZo(
      {.learning_rate = 0.4, .perturbation = 0.01, .coordinates_per_step = 4, .seed = 3});
  std::vector<double> x(20, 1.5);
  const double start = Value(x);
  Quadratic q;
  for (int step = 0; step < 100; ++step) ASSERT_TRUE(optimizer->Step(x, q.loss(), step).ok());
  // 400 coordinate updates, each contracting its error by 0.2.
  EXPECT_LT(Value(x), 1e-3 * start);
  EXPECT_EQ(q.evaluations, 100 * (1 + 2 * 4));
}

TEST(ZoOptimizerTest, GaussianAndSpsaReduceAQuadratic) {
  for (bool spsa : {false, true}) {
    auto optimizer = MakeGaussianZo({.learning_rate = 0.01,
                                     .perturbation = 0.01,
                                     .samples_per_step = 4,
                                     .spsa = spsa,
                                     .seed = 5});
    std::vector<double> x(20, 1.5);
    const double start = Value(x);
    Quadratic q;
    for (int step = 0; step < 400; ++step) ASSERT_TRUE(optimizer->Step(x, q.loss(), step).ok());
    EXPECT_LT(Value(x), 0.05 * start) << optimizer->name();
    EXPECT_EQ(q.evaluations, 400 * 5);
  }
}

// On a fixed function STP never accepts a worse point, so the loss is
// monotone; with alpha x 0.98 per step it converges on the quadratic.
TEST(ZoOptimizerTest, StpNeverAcceptsAWorsePointAndReducesAQuadratic) {
  auto optimizer = MakeStp({.step_rad = 0.5, .decay = 0.98, .seed = 7});
  std::vector<double> x(20, 1.5);
  const double start = Value(x);
  Quadratic q;
  double previous = start;
  for (int step = 0; step < 300; ++step) {
    absl::StatusOr<StepResult> result = optimizer->Step(x, q.loss(), step);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->evaluations, 3);
    EXPECT_NEAR(result->loss, previous, 1e-12);
    EXPECT_LE(Value(x), previous);
    previous = Value(x);
  }
  EXPECT_LT(Value(x), 0.05 * start);
  EXPECT_EQ(q.evaluations, 300 * 3);
}

// f(x) = sum_i c_i x_i, c_i = i + 1: central differences are exact, so
// each stored partial is c_i and the moves can be counted.
LossFn Linear() {
  return [](std::span<const double> x) -> absl::StatusOr<double> {
    double f = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) f += (i + 1.0) * x[i];
    return f;
  };
}

// The linear loss, failing the test when a parameter other than 2, 5 or 7
// differs from 0 in a probe (an inactive one was probed or moved).
LossFn ActiveOnlyLinear(const std::vector<double>& /*start*/) {
  return [](std::span<const double> x) -> absl::StatusOr<double> {
    double f = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (i != 2 && i != 5 && i != 7) {
        EXPECT_EQ(x[i], 0.0) << "probed " << i;
      }
      f += (i + 1.0) * x[i];
    }
    return f;
  };
}

// gamma = 1, B = 1, three parameters: step t refreshes coordinate t mod 3,
// and every stored partial keeps moving its coordinate at every later step.
TEST(ZoOptimizerTest, CocdCyclesItsCoordinatesAndKeepsApplyingStalePartials) {
  auto optimizer = MakeCocd(
      {.learning_rate = 0.1, .perturbation = 0.01, .block = 1, .memory_decay = 1.0, .active = {}});
  std::vector<double> x(3, 0.0);
  for (int step = 0; step < 3; ++step) {
    absl::StatusOr<StepResult> result = optimizer->Step(x, Linear(), step);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->evaluations, 2);
    EXPECT_EQ(result->changed, step + 1);
  }
  // x_0 refreshed at step 0 moved 3 times, x_1 twice, x_2 once.
  EXPECT_NEAR(x[0], -0.1 * 1 * 3, 1e-9);
  EXPECT_NEAR(x[1], -0.1 * 2 * 2, 1e-9);
  EXPECT_NEAR(x[2], -0.1 * 3 * 1, 1e-9);
  // With gamma = 0.5 a partial refreshed k steps ago moves by 0.5^k of it.
  auto decayed = MakeCocd(
      {.learning_rate = 0.1, .perturbation = 0.01, .block = 1, .memory_decay = 0.5, .active = {}});
  std::vector<double> y(3, 0.0);
  for (int step = 0; step < 3; ++step) ASSERT_TRUE(decayed->Step(y, Linear(), step).ok());
  EXPECT_NEAR(y[0], -0.1 * 1 * (1 + 0.5 + 0.25), 1e-9);
  EXPECT_NEAR(y[2], -0.1 * 3, 1e-9);
}

TEST(ZoOptimizerTest, CocdReducesAQuadraticAndResumesFromItsState) {
  CocdOptions options{
      .learning_rate = 0.05, .perturbation = 0.01, .block = 4, .memory_decay = 0.9, .active = {}};
  auto optimizer = MakeCocd(options);
  std::vector<double> x(20, 1.5);
  const double start = Value(x);
  Quadratic q;
  for (int step = 0; step < 150; ++step) {
    absl::StatusOr<StepResult> result = optimizer->Step(x, q.loss(), step);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->evaluations, 8);
  }
  EXPECT_LT(Value(x), 0.01 * start);
  // A copy restored from the state continues exactly as the original.
  auto restored = MakeCocd(options);
  ASSERT_TRUE(restored->StateFits(optimizer->SaveState(), x.size()));
  restored->RestoreState(optimizer->SaveState());
  std::vector<double> a = x, b = x;
  for (int step = 150; step < 160; ++step) {
    ASSERT_TRUE(optimizer->Step(a, q.loss(), step).ok());
    ASSERT_TRUE(restored->Step(b, q.loss(), step).ok());
  }
  EXPECT_EQ(a, b);
  EXPECT_FALSE(restored->StateFits(std::vector<double>(7, 0.0), x.size()));
}

TEST(ZoOptimizerTest, ZoAdamFirstStepMovesEveryVisitedCoordinateByTheLearningRate) {
  auto optimizer = MakeZoAdam({.learning_rate = 0.01,
                               .perturbation = 0.01,
                               .visit_fraction = 1.0,
                               .active = {},
                               .seed = 1});
  EXPECT_EQ(optimizer->name(), "zo_adam");
  std::vector<double> x = {0.5, -0.2, 0.3, 0.7, 1.0};  // c = 0, 0.3, 0.6, 0.9, 1.2
  const std::vector<double> start = x;
  Quadratic q;
  absl::StatusOr<StepResult> result = optimizer->Step(x, q.loss(), 0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->evaluations, 10);
  EXPECT_EQ(q.evaluations, 10);
  EXPECT_EQ(result->changed, 5);
  // The probes' mean is f(x) + h^2 (one coordinate off by +-h at a time).
  EXPECT_NEAR(result->loss, Value(start) + 0.01 * 0.01, 1e-12);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double partial = 2.0 * (start[i] - 0.3 * static_cast<double>(i % 5));
    EXPECT_NEAR(x[i] - start[i], partial > 0.0 ? -0.01 : 0.01, 1e-9) << i;
  }
}

TEST(ZoOptimizerTest, ZoAdamReducesAQuadraticVisitsAboutSAndResumesFromItsState) {
  const ZoAdamOptions options{
      .learning_rate = 0.05, .perturbation = 0.01, .visit_fraction = 0.25, .active = {}, .seed = 4};
  auto optimizer = MakeZoAdam(options);
  std::vector<double> x(40, 1.5);
  const double start = Value(x);
  Quadratic q;
  std::int64_t evaluations = 0;
  for (int step = 0; step < 300; ++step) {
    absl::StatusOr<StepResult> result = optimizer->Step(x, q.loss(), step);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->evaluations, 2 * result->changed);
    evaluations += result->evaluations;
  }
  EXPECT_LT(Value(x), 0.01 * start);
  // 300 steps x 40 parameters x s 0.25 x 2 = 6,000 expected; the count is
  // binomial (sd ~ 2 x sqrt(12,000 x 0.25 x 0.75) = 95): 5 sd either way.
  EXPECT_NEAR(static_cast<double>(evaluations), 6000.0, 475.0);
  auto restored = MakeZoAdam(options);
  ASSERT_TRUE(restored->StateFits(optimizer->SaveState(), x.size()));
  EXPECT_FALSE(restored->StateFits(std::vector<double>(40, 0.0), x.size()));
  restored->RestoreState(optimizer->SaveState());
  std::vector<double> a = x, b = x;
  for (int step = 300; step < 310; ++step) {
    ASSERT_TRUE(optimizer->Step(a, q.loss(), step).ok());
    ASSERT_TRUE(restored->Step(b, q.loss(), step).ok());
  }
  EXPECT_EQ(a, b);
}

// sparse_cocd and zo_adam on an active set: an inactive parameter is never
// probed (ActiveOnlyLinear checks every probe) or moved.
TEST(ZoOptimizerTest, SparseCocdAndZoAdamNeverProbeOrMoveAnInactiveParameter) {
  std::vector<bool> active(10, false);
  active[2] = active[5] = active[7] = true;
  std::vector<std::unique_ptr<ZoOptimizer>> optimizers;
  optimizers.push_back(MakeCocd({.learning_rate = 0.1, .block = 2, .active = active}));
  optimizers.push_back(MakeZoAdam({.learning_rate = 0.1,
                                   .perturbation = 0.02,
                                   .visit_fraction = 0.5,
                                   .active = active,
                                   .seed = 1}));
  EXPECT_EQ(optimizers[0]->name(), "sparse_cocd");
  for (auto& optimizer : optimizers) {
    std::vector<double> x(10, 0.0);
    for (int step = 0; step < 30; ++step) {
      ASSERT_TRUE(optimizer->Step(x, ActiveOnlyLinear(x), step).ok()) << optimizer->name();
    }
    for (int i = 0; i < 10; ++i) {
      if (active[i]) {
        EXPECT_LT(x[i], 0.0) << optimizer->name() << " " << i;
      } else {
        EXPECT_EQ(x[i], 0.0) << optimizer->name() << " " << i;
      }
    }
  }
}

// A loss evaluation that fails mid-step (at a +h or a -h probe) fails the
// step of zo_adam and cocd and leaves the parameters and the optimizer's
// state as they were: the retried step is the one an untouched copy takes.
// (coordinate_zo moves each coordinate as soon as it is measured, so a
// failure there keeps the earlier coordinates' moves.)
TEST(ZoOptimizerTest, ZoAdamAndCocdChangeNothingWhenAProbeFails) {
  auto make = [](int which) -> std::unique_ptr<ZoOptimizer> {
    if (which == 0) {
      return MakeZoAdam({.learning_rate = 0.05,
                         .perturbation = 0.01,
                         .visit_fraction = 0.5,
                         .active = {},
                         .seed = 2});
    }
    return MakeCocd({.learning_rate = 0.05,
                     .perturbation = 0.01,
                     .block = 3,
                     .memory_decay = 0.9,
                     .active = {}});
  };
  for (int which = 0; which < 2; ++which) {
    for (int fail_at : {1, 2, 4}) {  // a +h probe, a -h probe, a later coordinate's
      auto optimizer = make(which);
      std::vector<double> x(8, 1.0);
      Quadratic q;
      for (int step = 0; step < 3; ++step) ASSERT_TRUE(optimizer->Step(x, q.loss(), step).ok());
      const std::vector<double> params = x, state = optimizer->SaveState();
      int calls = 0;
      const LossFn failing = [&](std::span<const double> p) -> absl::StatusOr<double> {
        if (++calls == fail_at) return absl::UnavailableError("detector unplugged");
        return q.loss()(p);
      };
      const absl::StatusOr<StepResult> failed = optimizer->Step(x, failing, 3);
      ASSERT_FALSE(failed.ok()) << optimizer->name() << " fail_at " << fail_at;
      EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
      EXPECT_EQ(x, params) << optimizer->name() << " fail_at " << fail_at;
      EXPECT_EQ(optimizer->SaveState(), state) << optimizer->name() << " fail_at " << fail_at;
      // The retried step is the one an untouched copy takes.
      auto fresh = make(which);
      std::vector<double> y(8, 1.0);
      for (int step = 0; step < 3; ++step) ASSERT_TRUE(fresh->Step(y, q.loss(), step).ok());
      ASSERT_TRUE(optimizer->Step(x, q.loss(), 3).ok());
      ASSERT_TRUE(fresh->Step(y, q.loss(), 3).ok());
      EXPECT_EQ(x, y) << optimizer->name() << " fail_at " << fail_at;
    }
  }
}

TEST(ZoOptimizerTest, SparseZoReducesAQuadraticAndSkipsFrozenPhases) {
  SparseZoOptions options{.step_rad = 0.05,
                          .min_step_rad = 0.01,
                          .decay = 0.99,
                          .active_fraction = 0.5,
                          .visit_fraction = 0.5,
                          .prune_probability = 0.0};
  ASSERT_TRUE(ValidateSparseZoOptions(options).ok());
  std::vector<bool> always(20, false);
  auto optimizer = MakeSparseZo(options, always, [](int, double) { return 0.0; });
  std::vector<double> x(20, 1.5);
  Quadratic q;
  for (int step = 0; step < 300; ++step) ASSERT_TRUE(optimizer->Step(x, q.loss(), step).ok());
  int moved = 0;
  double active_error = 0.0;
  for (int i = 0; i < 20; ++i) {
    if (x[i] != 1.5) {
      ++moved;
      active_error = std::max(active_error, std::abs(x[i] - 0.3 * (i % 5)));
    }
  }
  // About half the phases are frozen at 1.5; the trained ones reach their
  // optimum to within a step.
  EXPECT_GT(moved, 4);
  EXPECT_LT(moved, 16);
  EXPECT_LT(active_error, 0.05);
}

TEST(ZoOptimizerTest, SparseZoSameSeedSameSteps) {
  auto run = [](std::int64_t first_step) {
    auto optimizer = MakeSparseZo({.active_fraction = 0.7, .visit_fraction = 0.5},
                                  std::vector<bool>(10), [](int, double) { return 0.0; });
    std::vector<double> x(10, 1.0);
    Quadratic q;
    for (std::int64_t step = first_step; step < first_step + 5; ++step) {
      EXPECT_TRUE(optimizer->Step(x, q.loss(), step).ok());
    }
    return x;
  };
  EXPECT_EQ(run(0), run(0));
  EXPECT_NE(run(0), run(7));
}

// Power ~ phase mod 2 pi, as on a heater with zero bias.
double WrappedPowerMw(int, double phase) {
  const double w = std::fmod(phase, 2 * std::numbers::pi);
  return 10.0 * (w < 0 ? w + 2 * std::numbers::pi : w);
}

TEST(ZoOptimizerTest, SparseZoNeverProbesOverItsBudgetAndPrunesWrappingSteps) {
  // The loss pulls every phase towards -0.5 rad (= 2 pi - 0.5): reaching it
  // from 0.3 by stepping down wraps to high power, which pruning forbids.
  const int n = 12;
  const double budget = 10.0 * 0.3 * n + 5.0;
  double worst_mw = 0.0;
  LossFn loss = [&](std::span<const double> x) -> absl::StatusOr<double> {
    double power = 0.0, f = 0.0;
    for (int i = 0; i < n; ++i) {
      power += WrappedPowerMw(i, x[i]);
      f += std::pow(std::sin((x[i] + 0.5) / 2), 2);
    }
    worst_mw = std::max(worst_mw, power);
    return f;
  };
  auto optimizer = MakeSparseZo({.step_rad = 0.1,
                                 .min_step_rad = 0.1,
                                 .active_fraction = 1.0,
                                 .visit_fraction = 1.0,
                                 .power_budget_mw = budget},
                                std::vector<bool>(n), WrappedPowerMw);
  std::vector<double> x(n, 0.3);
  for (int step = 0; step < 50; ++step) ASSERT_TRUE(optimizer->Step(x, loss, step).ok());
  EXPECT_LE(worst_mw, budget);
  double power = 0.0;
  for (int i = 0; i < n; ++i) power += WrappedPowerMw(i, x[i]);
  EXPECT_LE(power, budget);
  // Phases went down towards zero power and stopped there.
  for (double v : x) EXPECT_LT(WrappedPowerMw(0, v), 10.0 * 0.3);
}

TEST(ZoOptimizerTest, PruneProbabilityDecidesWhetherPhasesWrapToHighPower) {
  // The loss pulls every phase towards -0.5 rad = 2 pi - 0.5; from 0.35 the
  // blind step back wraps it to near 2 pi (high power) unless pruned.
  const int n = 40;
  LossFn loss = [&](std::span<const double> x) -> absl::StatusOr<double> {
    double f = 0.0;
    for (int i = 0; i < n; ++i) f += std::pow(std::sin((x[i] + 0.5) / 2), 2);
    return f;
  };
  // Phases go 0.35 -> 0.25 -> 0.15 -> 0.05 in three steps (each +delta try
  // raises the loss); every later step tries the wrap once.
  auto wrapped_after = [&](double p, int steps) {
    auto optimizer = MakeSparseZo({.step_rad = 0.1,
                                   .min_step_rad = 0.1,
                                   .active_fraction = 1.0,
                                   .visit_fraction = 1.0,
                                   .prune_probability = p},
                                  std::vector<bool>(n), WrappedPowerMw);
    std::vector<double> x(n, 0.35);
    for (int step = 0; step < steps; ++step) EXPECT_TRUE(optimizer->Step(x, loss, step).ok());
    int wrapped = 0;
    for (double v : x) wrapped += WrappedPowerMw(0, v) > 10.0 * std::numbers::pi;
    return wrapped;
  };
  EXPECT_EQ(wrapped_after(1.0, 10), 0);  // every power-raising step back pruned
  EXPECT_EQ(wrapped_after(0.0, 4), n);   // power-unaware: every phase wraps at once
  // p = 0.5: one try, pruned with probability 1/2: binomial(40, 1/2) wraps
  // (mean 20, sd 3.2; the bounds are 3.8 sd).
  const int once = wrapped_after(0.5, 4);
  EXPECT_GE(once, 8);
  EXPECT_LE(once, 32);
  // Seven tries: a phase escapes the wrap with probability 1/128.
  EXPECT_GE(wrapped_after(0.5, 10), n - 4);
  // Out of range: refused.
  EXPECT_FALSE(ValidateSparseZoOptions({.prune_probability = 1.5}).ok());
  EXPECT_FALSE(ValidateSparseZoOptions({.active_fraction = 0.0}).ok());
  EXPECT_FALSE(ValidateSparseZoOptions({.visit_fraction = 1.5}).ok());
}

TEST(TrainingRunTest, SparseZoTrainsASmallOnnOnTheModel) {
  photonic::v1::ChipDescription chip = phc::testing::IdealMeshChip(4);
  chip.set_max_total_heater_power_mw(1e6);
  ModelOracle oracle(chip);
  absl::StatusOr<OnnModel> model = OnnModel::Create(oracle.layout(), {{4, 4}, 20.0, 0});
  ASSERT_TRUE(model.ok());
  const Dataset train = MakeClusters(200, 4, 4, 0.05, 1);
  const Dataset test = MakeClusters(100, 4, 4, 0.05, 1);  // same prototypes
  std::vector<double> params(model->trainable_phases().size(), 0.0);
  auto optimizer = MakeSparseZo({.step_rad = 0.2,
                                 .min_step_rad = 0.05,
                                 .decay = 0.99,
                                 .active_fraction = 1.0,
                                 .visit_fraction = 0.5},
                                model->attenuator_phases(), [&](int i, double phase) {
                                  return oracle.PhasePowerMw(model->trainable_phases()[i], phase);
                                });
  TrainingRun run(oracle, *model, train, test, std::move(optimizer),
                  {.batch_size = 16, .max_steps = 150, .eval_every = 0, .seed = 2},
                  std::vector<double>(12, 0.0), params);
  const double before = *run.Evaluate(test, 0);
  double first_loss = 0.0;
  while (!run.done()) {
    const absl::StatusOr<TrainingProgress> p = run.Step();
    ASSERT_TRUE(p.ok()) << p.status();
    if (p->step == 1) first_loss = p->loss;
  }
  EXPECT_EQ(run.stop_reason(), StopReason::kMaxSteps);
  EXPECT_LT(run.progress().loss, 0.8 * first_loss);
  EXPECT_GT(run.progress().test_accuracy, before + 0.3);
  EXPECT_GT(run.progress().test_accuracy, 0.8);
  std::printf("4x4 ONN: accuracy %.3f -> %.3f, loss %.3f -> %.3f, %lld loss evaluations\n", before,
              run.progress().test_accuracy, first_loss, run.progress().loss,
              static_cast<long long>(run.progress().loss_evaluations));
}

}  // namespace
}  // namespace phc::trainers
