// The clients of a soak run: each loops over a random mix of everything a
// lab's clients do to a daemon, well-formed and malformed, until told to
// stop, and tallies every answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "soak_budget.h"
#include "soak_processes.h"
#include "soak_tally.h"

namespace phc::soak {

struct LoadTarget {
  Daemon* daemon = nullptr;
  // Writes, leases, sessions, calibration and budgets; otherwise reads,
  // malformed requests and stalled streams only (the sim daemon, whose
  // session must see no other writer).
  bool full_mix = false;
  BudgetTracker* budget = nullptr;  // with full_mix
  int phases = 0;
  int inputs = 0;
  double description_budget_mw = 0;
};

// One client thread's loop. Every call has a deadline; what comes back is
// tallied by kind and status code. DEADLINE_EXCEEDED (outside the streams
// the client stalls on purpose), INTERNAL and UNKNOWN are violations, and
// so is a malformed request that is accepted.
void RunLoadClient(int index, std::uint64_t seed, const std::vector<LoadTarget>& targets,
                   Tally& tally, const std::atomic<bool>& stop);

}  // namespace phc::soak
