// Must NOT compile: the daemon may not see the simulator. Built only by the
// `seam_daemon_cannot_include_simulator` test, which passes when the compiler
// reports that photonsim/hidden_truth.h is not on the daemon's include path.
#include "daemon/chip/chip_controller.h"
#include "photonsim/hidden_truth.h"

int main() { return 0; }
