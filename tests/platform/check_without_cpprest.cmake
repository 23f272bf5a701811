# Configures Fieldbook with FIELDBOOK_WITH_CPPREST=OFF (and without the server, tests and
# benchmarks), builds only libfieldbook, and checks that neither its link line nor its
# dynamic dependencies mention cpprestsdk or Boost, and that it exports only fieldbook_*.
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DGENERATOR=... -DNM=nm -DREADELF=readelf -P ...
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DFIELDBOOK_WITH_CPPREST=OFF -DFIELDBOOK_WITH_SERVER=OFF -DFIELDBOOK_BUILD_TESTS=OFF
    -DFIELDBOOK_BUILD_BENCH=OFF -DFIELDBOOK_WITH_JNI=OFF
    # What is checked (link line, dependencies, exports) does not depend on optimisation.
    "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring without cpprest failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target fieldbook_platform -j 2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building libfieldbook without cpprest failed")
endif()

# The configuration did not even look for the HTTP stacks.
file(READ ${BINARY_DIR}/CMakeCache.txt cache)
foreach(package cpprestsdk Boost)
  if(cache MATCHES "\n${package}_DIR:PATH=([^\n]*)" AND NOT CMAKE_MATCH_1 MATCHES "NOTFOUND")
    message(FATAL_ERROR "a build without cpprest still found ${package} (${CMAKE_MATCH_1})")
  endif()
endforeach()

# The link line, whatever the generator: relink verbosely and read the command.
file(GLOB old ${BINARY_DIR}/platform/libfieldbook.*)
if(old)
  file(REMOVE ${old})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --target fieldbook_platform --verbose
  OUTPUT_VARIABLE log ERROR_VARIABLE log RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "relinking libfieldbook failed:\n${log}")
endif()
string(REPLACE "\n" ";" log_lines "${log}")
set(link_line "")
foreach(line IN LISTS log_lines)
  if(line MATCHES "-shared" AND line MATCHES "libfieldbook")
    set(link_line "${line}")
  endif()
endforeach()
if(link_line STREQUAL "")
  message(FATAL_ERROR "no link command for libfieldbook in:\n${log}")
endif()
string(TOLOWER "${link_line}" lower)
foreach(word cpprest boost beast)
  if(lower MATCHES "${word}")
    message(FATAL_ERROR "libfieldbook's link line mentions ${word}: ${link_line}")
  endif()
endforeach()

file(GLOB libraries ${BINARY_DIR}/platform/libfieldbook.so ${BINARY_DIR}/platform/libfieldbook.dylib)
list(GET libraries 0 library)
execute_process(COMMAND ${READELF} -d ${library} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${READELF} failed on ${library}")
endif()
string(TOLOWER "${dynamic}" dynamic)
foreach(word cpprest boost)
  if(dynamic MATCHES "needed[^\n]*${word}")
    message(FATAL_ERROR "${library} needs a ${word} library:\n${dynamic}")
  endif()
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -DNM=${NM} -DLIBRARY=${library} -DPATTERN=^fieldbook_
  -P ${CMAKE_CURRENT_LIST_DIR}/check_exports.cmake RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "export check failed")
endif()
message(STATUS "${library}: no cpprest or Boost in its link line or dependencies")
