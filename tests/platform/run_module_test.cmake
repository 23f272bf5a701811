# Compiles module_test.m with clang -fmodules against platform/apple/module.modulemap (as
# Xcode does for Swift and Objective-C), links libfieldbook and runs it.
#   cmake -DCLANG=clang -DSOURCE_DIR=... -DTEST_SOURCE=... -DLIBRARY=.../libfieldbook.so
#         -DWORK_DIR=... [-DSANITIZE=ON -DC_COMPILER=gcc] -P run_module_test.cmake
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/cache ${WORK_DIR}/run)
get_filename_component(libdir ${LIBRARY} DIRECTORY)
include(${CMAKE_CURRENT_LIST_DIR}/sanitizer_runtime.cmake)
# -Werror: the header must import without warnings (nullability completeness included).
execute_process(
  COMMAND ${CLANG} -fmodules -fmodules-cache-path=${WORK_DIR}/cache -Werror -Wall -Wextra
    -I ${SOURCE_DIR}/platform/apple -x objective-c ${TEST_SOURCE} -x none
    -L ${libdir} -lfieldbook -Wl,-rpath,${libdir} -o ${WORK_DIR}/module_test
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang -fmodules failed:\n${out}\n${err}")
endif()
# The module really was built from the module map (not a plain #include).
file(GLOB_RECURSE pcms ${WORK_DIR}/cache/*Fieldbook*.pcm)
if(NOT pcms)
  message(FATAL_ERROR "no Fieldbook module was built in ${WORK_DIR}/cache")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env ${SANITIZER_ENV} ${WORK_DIR}/module_test ${WORK_DIR}/run RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "module_test failed (${rc}):\n${out}\n${err}")
endif()
message(STATUS "${out}")
