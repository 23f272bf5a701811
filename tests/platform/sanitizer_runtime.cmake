# For programs not built by us that load an instrumented libfieldbook (the JVM, a clang
# build): with -DSANITIZE=ON, SANITIZER_ENV preloads the compiler's sanitizer runtimes,
# which must come first in the process. Empty otherwise.
set(SANITIZER_ENV "")
if(SANITIZE)
  set(preload "")
  foreach(runtime libasan.so libubsan.so)
    execute_process(COMMAND ${C_COMPILER} -print-file-name=${runtime} OUTPUT_VARIABLE path
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(EXISTS "${path}")
      list(APPEND preload ${path})
    endif()
  endforeach()
  list(JOIN preload ":" preload)
  set(SANITIZER_ENV "LD_PRELOAD=${preload}"
    "ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0")
endif()
