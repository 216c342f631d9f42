#include "phc/trainers/chip_oracle.h"

#include "absl/strings/str_cat.h"

namespace phc::trainers {

absl::StatusOr<std::vector<double>> ChipOracle::QueryBatch(std::span<const double> amplitude_rows,
                                                           std::span<const int> outputs) {
  const auto inputs = static_cast<std::size_t>(layout().input_count);
  if (inputs == 0 || amplitude_rows.size() % inputs != 0) {
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", amplitude_rows.size(),
                                                   " amplitudes is not rows of the chip's ", inputs,
                                                   " inputs"));
  }
  if (absl::Status s = photonsim::ValidateOutputScan(layout().output_count, outputs); !s.ok()) {
    return s;
  }
  std::vector<double> readings;
  readings.reserve(amplitude_rows.size() / inputs *
                   (outputs.empty() ? layout().output_count : outputs.size()));
  for (std::size_t first = 0; first < amplitude_rows.size(); first += inputs) {
    absl::StatusOr<std::vector<double>> row = Query(amplitude_rows.subspan(first, inputs));
    if (!row.ok()) return row.status();
    if (outputs.empty()) {
      readings.insert(readings.end(), row->begin(), row->end());
      continue;
    }
    for (const int k : outputs) readings.push_back((*row)[k]);
  }
  return readings;
}

}  // namespace phc::trainers
