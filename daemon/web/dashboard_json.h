// The dashboard's JSON: the chip as drawn and its state from a snapshot, as
// DashboardChip / DashboardState messages in protobuf's JSON mapping.
#pragma once

#include <string>

#include "daemon/chip/chip_controller.h"
#include "daemon/metrics/chip_snapshot.h"
#include "google/protobuf/message.h"
#include "photonic/v1/dashboard.pb.h"

namespace phc::daemon {

photonic::v1::DashboardChip DashboardChipOf(const ChipController& controller);

// snapshot null: before the first one (chip fields empty). The controller's
// thread-safe state (links, counters) is read now.
photonic::v1::DashboardState DashboardStateOf(const ChipSnapshot* snapshot,
                                              const ChipController& controller);

// lowerCamelCase names, zero values printed.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace phc::daemon
