# stratus_embed_sql(<target> <symbol> <dir>)
#
# Compiles every NNNN_name.sql file of <dir> into <target> as an array of
# st_migration {version, name, sql} called <symbol> (and <symbol>_count), so
# a service binary carries its own schema migrations and needs no files at
# run time.
function(stratus_embed_sql target symbol dir)
  file(GLOB _files CONFIGURE_DEPENDS ${dir}/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT _files)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${_out} -DSYMBOL=${symbol} -DDIR=${dir}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_sql.cmake
    DEPENDS ${_files} ${CMAKE_SOURCE_DIR}/cmake/embed_sql.cmake
    COMMENT "Embedding ${symbol} migrations"
    VERBATIM)
  target_sources(${target} PRIVATE ${_out})
endfunction()

# stratus_embed_file(<target> <symbol> <file>)
#
# Compiles <file> into <target> as `const char <symbol>[]` (NUL-terminated)
# and `const unsigned long <symbol>_len`.
function(stratus_embed_file target symbol file)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${_out} -DSYMBOL=${symbol} -DFILE=${file}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding ${file}"
    VERBATIM)
  target_sources(${target} PRIVATE ${_out})
endfunction()
