# Installs the build tree into a fresh prefix, checks what got installed, then configures,
# builds and runs tests/platform/consumer against it.
#   cmake -DBUILD_DIR=... -DCONSUMER_DIR=... -DWORK_DIR=... -DGENERATOR=...
#         -DC_COMPILER=... -DCXX_COMPILER=... [-DSANITIZE=ON] -P run_consumer_test.cmake
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/run)
set(prefix ${WORK_DIR}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ${out}")
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# What an app gets: the C header, the libraries, the package; public headers only.
foreach(required include/fieldbook/fieldbook.h include/fieldbook/core/status.h include/fieldbook/sync/client.h)
  if(NOT EXISTS ${prefix}/${required})
    message(FATAL_ERROR "${required} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE config ${prefix}/*/FieldbookConfig.cmake)
if(NOT config)
  message(FATAL_ERROR "FieldbookConfig.cmake was not installed")
endif()
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(h IN LISTS headers)
  if(NOT h MATCHES "^fieldbook/(fieldbook\\.h|core/[a-z_]+\\.h|sync/[a-z_]+\\.h)$")
    message(FATAL_ERROR "an unexpected header was installed: ${h}")
  endif()
  if(h MATCHES "server|cpprest")
    message(FATAL_ERROR "a server or transport header was installed: ${h}")
  endif()
endforeach()

set(flags "")
if(SANITIZE)
  set(flags "-fsanitize=address,undefined")
endif()
run("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} "-DCMAKE_C_FLAGS=${flags}" "-DCMAKE_CXX_FLAGS=${flags}"
  "-DCMAKE_EXE_LINKER_FLAGS=${flags}")
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j 2)
run("consumer_c" ${WORK_DIR}/build/consumer_c ${WORK_DIR}/run)
run("consumer_cxx" ${WORK_DIR}/build/consumer_cxx ${WORK_DIR}/run)
