# Script mode helper for stratus_embed_file: writes OUT, a C array of FILE.
file(READ ${FILE} _hex HEX)
string(LENGTH "${_hex}" _n)
math(EXPR _len "${_n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n    " _bytes "${_bytes}")
file(WRITE ${OUT}.tmp "/* Generated from ${FILE}; do not edit. */\nconst char ${SYMBOL}[] = {\n    ${_bytes}0x00};\nconst unsigned long ${SYMBOL}_len = ${_len};\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
