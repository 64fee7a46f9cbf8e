# stratus_add_fuzzer(NAME <component>_fuzz_<what> SOURCES ... [LIBS ...]
#                    [CORPUS dir] [SECONDS n])
#
# A fuzz target defines LLVMFuzzerTestOneInput(). With -DSTRATUS_FUZZ=ON (clang)
# it links against libFuzzer and ctest runs it for SECONDS (default 30) from
# the seed CORPUS, failing on any crash, leak or sanitizer report; the cache
# variable STRATUS_FUZZ_MAX_SECONDS, when set, caps every target's time (CI sets
# it, to keep the whole suite inside its time budget). Without it
# (e.g. the gcc build) it links a small driver that replays every corpus file
# once, so the target always compiles and the seeds stay a regression test.
set(STRATUS_FUZZ_DRIVER ${CMAKE_CURRENT_LIST_DIR}/fuzz_replay_main.c)

function(stratus_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS 30)
  endif()
  if(STRATUS_FUZZ_MAX_SECONDS AND F_SECONDS GREATER STRATUS_FUZZ_MAX_SECONDS)
    set(F_SECONDS ${STRATUS_FUZZ_MAX_SECONDS})
  endif()
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  # LLVMFuzzerTestOneInput is libFuzzer's entry point, declared by no header.
  target_compile_options(${name} PRIVATE -Wno-missing-prototypes)
  set(_work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  if(STRATUS_FUZZ)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    # New inputs go to a scratch corpus in the build tree; the checked-in
    # seeds are read only.
    add_test(NAME ${name}
             COMMAND ${CMAKE_COMMAND} -E env
                     sh -c "mkdir -p '${_work}' && exec \"$0\" -max_total_time=${F_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${_work}' '${F_CORPUS}'"
                     $<TARGET_FILE:${name}>)
    math(EXPR _timeout "${F_SECONDS} + 120")
    set_tests_properties(${name} PROPERTIES TIMEOUT ${_timeout})
  else()
    target_sources(${name} PRIVATE ${STRATUS_FUZZ_DRIVER})
    add_test(NAME ${name} COMMAND ${name} ${F_CORPUS})
  endif()
endfunction()
