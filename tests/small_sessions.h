// A small session config of each algorithm family on the 4-mode mesh
// (tests/test_chips.h), shared by the trainers' and the daemon's tests.
#pragma once

#include <string>

#include "photonic/v1/training.pb.h"

namespace phc::testing {

inline photonic::v1::SessionConfig SmallSessionConfig(const std::string& name) {
  photonic::v1::SessionConfig c;
  c.mutable_algorithm()->set_name(name);
  c.mutable_algorithm()->set_pretrain_epochs(2);
  c.mutable_algorithm()->set_teacher_epochs(2);
  if (name == "dfa") {
    for (int w : {4, 8, 3}) c.add_widths(w);
    c.mutable_algorithm()->set_feedback("noise_model");
  } else if (name == "ntkd") {
    for (int w : {4, 8, 3}) c.add_widths(w);  // one optical block, 8 hidden units, 3 classes
  } else if (name == "pat" || name == "dat") {
    for (int w : {4, 3}) c.add_widths(w);  // one optical block, 3 classes
  } else {
    for (int w : {4, 4}) c.add_widths(w);  // the ZO methods: a 4 x 4 layer
  }
  c.set_dataset("synthetic");
  c.set_train_samples(60);
  c.set_test_samples(30);
  c.set_batch_size(6);
  c.set_seed(7);
  return c;
}

// A quick SPSA session on an 8-mode chip (deploy/photonicd.textproto's
// clements8): synthetic data, 8 features, 4 classes.
inline photonic::v1::SessionConfig QuickSpsaSessionOn8Modes(int max_steps, int eval_every) {
  photonic::v1::SessionConfig c;
  c.mutable_algorithm()->set_name("spsa");
  for (int w : {8, 4}) c.add_widths(w);
  c.set_dataset("synthetic");
  c.set_train_samples(40);
  c.set_test_samples(20);
  c.set_batch_size(4);
  c.set_max_steps(max_steps);
  c.set_eval_every(eval_every);
  c.set_seed(3);
  return c;
}

}  // namespace phc::testing
