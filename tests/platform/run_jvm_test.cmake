# Compiles the Java binding (platform/android/java) and the JVM test with javac, then runs
# the test on the desktop JVM against the real libfieldbook_jni/libfieldbook and a real
# fieldbook-server, with the JVM's JNI checks on.
#   cmake -DJAVAC=... -DJAVA=... -DJAVA_SOURCE_DIR=... -DTEST_SOURCE=... -DJNI_LIBRARY=...
#         -DSERVER=... -DWORK_DIR=... [-DSANITIZE=ON -DC_COMPILER=gcc] -P run_jvm_test.cmake
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/classes ${WORK_DIR}/run)
file(GLOB_RECURSE sources ${JAVA_SOURCE_DIR}/*.java)
# --release 8: the binding uses nothing an Android app could not.
execute_process(
  COMMAND ${JAVAC} --release 8 -encoding UTF-8 -Xlint:all -Xlint:-options -Werror -d ${WORK_DIR}/classes
    ${sources} ${TEST_SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "javac failed:\n${out}\n${err}")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/sanitizer_runtime.cmake)
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env ${SANITIZER_ENV}
    ${JAVA} -Xcheck:jni -Dfieldbook.jni.path=${JNI_LIBRARY} -cp ${WORK_DIR}/classes FieldbookJvmTest
    ${SERVER} ${WORK_DIR}/run
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the JVM test failed (${rc}):\n${out}\n${err}")
endif()
# -Xcheck:jni reports misuse as warnings and carries on: any is a failure.
if(out MATCHES "WARNING in native method" OR err MATCHES "WARNING in native method|FATAL ERROR in native method")
  message(FATAL_ERROR "the JVM found JNI misuse:\n${out}\n${err}")
endif()
