// The client write lease on an injected clock: contention, renewal,
// lapsing, release.
#include "daemon/lease_manager.h"

#include <gtest/gtest.h>

namespace phc::daemon {
namespace {

class LeaseManagerTest : public ::testing::Test {
 protected:
  std::chrono::steady_clock::time_point now_{};
  LeaseManager leases_{[this] { return now_; }};
  void Advance(double seconds) {
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(seconds));
  }
};

TEST_F(LeaseManagerTest, OneHolderAtATimeAndOnlyItsWritesPass) {
  EXPECT_TRUE(leases_.CheckWrite("").ok());  // no lease: everyone writes
  auto alice = leases_.Acquire("alice", 60, "");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_FALSE(alice->lease_id.empty());
  auto bob = leases_.Acquire("bob", 60, "");
  EXPECT_EQ(bob.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(bob.status().message().find("alice"), std::string::npos) << bob.status();
  EXPECT_TRUE(leases_.CheckWrite(alice->lease_id).ok());
  const absl::Status other = leases_.CheckWrite("");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("alice"), std::string::npos);
  EXPECT_EQ(leases_.CheckWrite("L1-guess").code(), absl::StatusCode::kFailedPrecondition);
  const LeaseInfo current = leases_.Current();
  EXPECT_TRUE(current.held);
  EXPECT_EQ(current.holder, "alice");
  EXPECT_TRUE(current.lease_id.empty());  // never shown to others
}

TEST_F(LeaseManagerTest, LeasesLapseAfterTheirTtlUnlessRenewed) {
  auto lease = leases_.Acquire("alice", 10, "");
  ASSERT_TRUE(lease.ok());
  Advance(9);
  auto renewed = leases_.Acquire("alice", 10, lease->lease_id);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->lease_id, lease->lease_id);
  Advance(9);  // 18 s after the first grant, 9 after the renewal
  EXPECT_TRUE(leases_.Current().held);
  EXPECT_NEAR(leases_.Current().expires_in_seconds, 1.0, 1e-6);
  Advance(1.5);
  EXPECT_FALSE(leases_.Current().held);
  EXPECT_TRUE(leases_.CheckWrite("").ok());
  EXPECT_EQ(leases_.Acquire("alice", 10, lease->lease_id).status().code(),
            absl::StatusCode::kNotFound);
  auto bob = leases_.Acquire("bob", 5, "");
  ASSERT_TRUE(bob.ok());
  EXPECT_NE(bob->lease_id, lease->lease_id);
}

TEST_F(LeaseManagerTest, ReleaseEndsTheLeaseOnlyForItsHolder) {
  auto lease = leases_.Acquire("alice", 60, "");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(leases_.Release("L9-other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(leases_.Current().held);
  EXPECT_TRUE(leases_.Release(lease->lease_id).ok());
  EXPECT_FALSE(leases_.Current().held);
  EXPECT_EQ(leases_.Release(lease->lease_id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LeaseManagerTest, BadRequestsAreRefused) {
  for (double ttl : {0.0, -1.0, 3601.0, std::nan("")}) {
    EXPECT_EQ(leases_.Acquire("alice", ttl, "").status().code(), absl::StatusCode::kInvalidArgument)
        << ttl;
  }
  EXPECT_EQ(leases_.Acquire("", 10, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(leases_.Current().held);
}

}  // namespace
}  // namespace phc::daemon
