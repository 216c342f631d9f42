// Haar-random unitaries: QR of a complex Gaussian matrix with R's diagonal
// phases moved into Q (Mezzadri, Notices AMS 54, 592 (2007)).
#pragma once

#include <cstdint>

#include "photonsim/eigen.h"

namespace photonsim {

MatrixXc HaarUnitary(int n, std::uint64_t seed);

}  // namespace photonsim
