# Writes OUTPUT, a C++ source defining `const std::string_view NAME` with the
# bytes of INPUT (a text file), for HEADER. Run with cmake -P.
file(READ "${INPUT}" content)
string(FIND "${content}" ")PHCWEB\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string delimiter )PHCWEB\"")
endif()
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by cmake/EmbedText.cmake.\n#include \"${HEADER}\"\n\nnamespace phc::daemon {\n\nconst std::string_view ${NAME} = R\"PHCWEB(${content})PHCWEB\";\n\n}  // namespace phc::daemon\n")
