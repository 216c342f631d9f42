// The dashboard page (daemon/web/dashboard.html), embedded at build time by
// cmake/EmbedText.cmake: the daemon serves it without reading files.
#pragma once

#include <string_view>

namespace phc::daemon {

extern const std::string_view kDashboardHtml;

}  // namespace phc::daemon
