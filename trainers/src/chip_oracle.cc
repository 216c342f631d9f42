#include "phc/trainers/chip_oracle.h"

#include "absl/strings/str_cat.h"

namespace phc::trainers {

absl::StatusOr<std::vector<double>> ChipOracle::QueryBatch(std::span<const double> amplitude_rows) {
  const auto inputs = static_cast<std::size_t>(layout().input_count);
  if (inputs == 0 || amplitude_rows.size() % inputs != 0) {
    return absl::InvalidArgumentError(absl::StrCat("a batch of ", amplitude_rows.size(),
                                                   " amplitudes is not rows of the chip's ", inputs,
                                                   " inputs"));
  }
  std::vector<double> outputs;
  outputs.reserve(amplitude_rows.size() / inputs * layout().output_count);
  for (std::size_t first = 0; first < amplitude_rows.size(); first += inputs) {
    absl::StatusOr<std::vector<double>> row = Query(amplitude_rows.subspan(first, inputs));
    if (!row.ok()) return row.status();
    outputs.insert(outputs.end(), row->begin(), row->end());
  }
  return outputs;
}

}  // namespace phc::trainers
