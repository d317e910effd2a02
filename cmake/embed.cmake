# Turns file IN into a C source OUT defining `const char SYM[]` (NUL-terminated) and `SYM_len`.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "#include <stddef.h>\nconst char ${SYM}[] = {${arr} 0x00};\nconst size_t ${SYM}_len = sizeof(${SYM}) - 1;\n")
