// Which parameters a zeroth-order optimizer trains: all of them, or the ones
// a mask marks active (power-aware sparsity's mixed training).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace phc::trainers {

class TrainedSet {
 public:
  // active empty: every parameter is trained.
  explicit TrainedSet(std::vector<bool> active) : active_(std::move(active)) {}

  bool everything() const { return active_.empty(); }

  // The trained parameters' indices among param_count, ascending (a
  // parameter past the mask's end is not trained).
  const std::vector<int>& For(std::size_t param_count) const {
    if (indices_.empty() || indices_for_ != param_count) {
      indices_.clear();
      for (std::size_t i = 0; i < param_count; ++i) {
        if (active_.empty() || (i < active_.size() && active_[i])) {
          indices_.push_back(static_cast<int>(i));
        }
      }
      indices_for_ = param_count;
    }
    return indices_;
  }

 private:
  std::vector<bool> active_;
  mutable std::vector<int> indices_;
  mutable std::size_t indices_for_ = 0;
};

}  // namespace phc::trainers
