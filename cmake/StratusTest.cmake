# stratus_add_test(NAME <component>_<what> SOURCES ... [LIBS ...] [PG] [TIMEOUT s]
#                  [ENV VAR=value ...] [RUN_SERIAL])
#
# Builds one CUnit test program and registers it with ctest under NAME. The
# name must start with its component, so `ctest -R '^gateway_'` runs one
# component alone. PG marks a test that needs the real PostgreSQL started by
# the common_pg fixture; it finds it through STRATUS_TEST_PGHOST. A test
# program exits 77 to say "skipped" (e.g. no /dev/kvm), which ctest reports as
# skipped, not passed.
set(STRATUS_TEST_COMPONENTS common gateway vmm node images billing network sdk e2e)

# One private PostgreSQL per build tree, on a unix socket under /tmp (socket
# paths are limited to 107 bytes, so never under the build tree itself).
string(MD5 _stratus_build_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_stratus_build_hash}" 0 10 _stratus_build_hash)
set(STRATUS_TEST_PGDIR "/tmp/stratus-test-pg-${_stratus_build_hash}" CACHE INTERNAL "")

function(stratus_add_test name)
  cmake_parse_arguments(T "PG;RUN_SERIAL" "TIMEOUT" "SOURCES;LIBS;ENV" ${ARGN})
  string(REGEX MATCH "^[a-z0-9]+_" _prefix "${name}")
  string(REGEX REPLACE "_$" "" _prefix "${_prefix}")
  if(NOT _prefix IN_LIST STRATUS_TEST_COMPONENTS)
    message(FATAL_ERROR "test ${name}: name must start with one of ${STRATUS_TEST_COMPONENTS} and _")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE stratus_test ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(_env "STRATUS_BUILD_DIR=${CMAKE_BINARY_DIR}" "STRATUS_SOURCE_DIR=${CMAKE_SOURCE_DIR}" ${T_ENV})
  if(T_PG)
    list(APPEND _env "STRATUS_TEST_PGHOST=${STRATUS_TEST_PGDIR}/socket")
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED common_pg)
  endif()
  set_tests_properties(${name} PROPERTIES
    SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "${_env}")
  if(T_RUN_SERIAL)
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
