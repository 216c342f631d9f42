#include "daemon/chip/power_guard.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace phc::daemon {
namespace {

PowerGuard MakeGuard() {
  photonic::v1::HeaterSpec spec;
  spec.set_resistance_ohm(1000);
  spec.set_p_pi_mw(25);
  return PowerGuard({.max_voltage_v = 8, .max_current_ma = 7, .max_total_power_mw = 100},
                    NominalHeaterModel(spec));
}

TEST(PowerGuardTest, AcceptsStateWithinAllLimits) {
  EXPECT_TRUE(MakeGuard().CheckHeaterVoltages(std::vector<double>{0, 3, 5, 6.9}).ok());
}

TEST(PowerGuardTest, RejectsVoltageOverLimitNamingChannel) {
  const absl::Status s = MakeGuard().CheckHeaterVoltages(std::vector<double>{1, 8.5});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("channel 1"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("8.5 V"), absl::string_view::npos) << s;
}

TEST(PowerGuardTest, RejectsCurrentOverLimit) {
  // 7.5 V into 1 kOhm is 7.5 mA: under the voltage limit, over the current one.
  const absl::Status s = MakeGuard().CheckHeaterVoltages(std::vector<double>{7.5});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("mA"), absl::string_view::npos) << s;
}

TEST(PowerGuardTest, RejectsTotalPowerOverBudget) {
  // Three channels at 6 V: 36 mW each, 108 mW in total > 100 mW.
  const absl::Status s = MakeGuard().CheckHeaterVoltages(std::vector<double>{6, 6, 6});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("budget"), absl::string_view::npos) << s;
  EXPECT_TRUE(MakeGuard().CheckHeaterVoltages(std::vector<double>{6, 6}).ok());
}

TEST(PowerGuardTest, RejectsNonFiniteAndNegativeVoltages) {
  for (double v :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -0.1}) {
    EXPECT_EQ(MakeGuard().CheckHeaterVoltages(std::vector<double>{v}).code(),
              absl::StatusCode::kFailedPrecondition)
        << v;
  }
}

}  // namespace
}  // namespace phc::daemon
