# phc_add_test(NAME SOURCES src... LIBS lib... [LABELS label...] [INCLUDES dir...])
# Builds a GoogleTest executable and registers its tests with ctest.
function(phc_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS;INCLUDES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main phc_warnings)
  target_include_directories(${name} PRIVATE ${ARG_INCLUDES})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
