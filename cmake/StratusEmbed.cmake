# stratus_embed_sql(<target> <symbol> <dir>)
#
# Compiles every NNNN_name.sql file of <dir> into <target> as an array of
# st_migration {version, name, sql} called <symbol> (and <symbol>_count), so
# a service binary carries its own schema migrations and needs no files at
# run time.
function(stratus_embed_sql target symbol dir)
  _stratus_embed_sql(${target} ${symbol} ${dir} 0)
endfunction()

# stratus_embed_sql_repeatable(<target> <symbol> <dir>)
#
# The same for the repeatable SQL files of <dir> (every *.sql, in name
# order, version 0, named without .sql), applied by st_migrate_repeatable()
# whenever their text changes.
function(stratus_embed_sql_repeatable target symbol dir)
  _stratus_embed_sql(${target} ${symbol} ${dir} 1)
endfunction()

function(_stratus_embed_sql target symbol dir repeatable)
  if(repeatable)
    file(GLOB _files CONFIGURE_DEPENDS ${dir}/*.sql)
  else()
    file(GLOB _files CONFIGURE_DEPENDS ${dir}/[0-9][0-9][0-9][0-9]_*.sql)
  endif()
  list(SORT _files)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${_out} -DSYMBOL=${symbol} -DDIR=${dir}
            -DREPEATABLE=${repeatable} -P ${CMAKE_SOURCE_DIR}/cmake/embed_sql.cmake
    DEPENDS ${_files} ${CMAKE_SOURCE_DIR}/cmake/embed_sql.cmake
    COMMENT "Embedding ${symbol} SQL"
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
