# Turns every file of the dashboard folder DIR into a C array in OUT, with a table of
# struct admin_asset (admin_int.h): name, Content-Type, bytes, length and a strong ETag (the
# first 16 hex digits of the file's SHA-256). Run as `cmake -DDIR=... -DOUT=... -P` at build time.
#
# The Content-Type comes from the name's extension and only from this list: a file of any other
# kind stops the build rather than being served under a guessed type.
cmake_minimum_required(VERSION 3.25)

set(ASSET_MAX 1048576)   # bytes in one file; the dashboard is a few tens of KiB

file(GLOB files LIST_DIRECTORIES false RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
if(NOT "index.html" IN_LIST files)
  message(FATAL_ERROR "embed_dashboard: ${DIR} has no index.html")
endif()

set(body "")
set(table "")
set(i 0)
foreach(name ${files})
  if(NOT name MATCHES "^[A-Za-z0-9][A-Za-z0-9._-]*$")
    message(FATAL_ERROR "embed_dashboard: '${name}': names are letters, digits, '.', '_' and '-'")
  endif()
  if(name MATCHES "\\.html$")
    set(ctype "text/html; charset=utf-8")
  elseif(name MATCHES "\\.m?js$")
    set(ctype "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(ctype "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(ctype "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_dashboard: '${name}': no Content-Type is known for this kind of file")
  endif()
  file(SIZE ${DIR}/${name} size)
  if(size GREATER ASSET_MAX)
    message(FATAL_ERROR "embed_dashboard: '${name}' is ${size} bytes, more than ${ASSET_MAX}")
  endif()
  file(SHA256 ${DIR}/${name} sum)
  string(SUBSTRING ${sum} 0 16 etag)
  file(READ ${DIR}/${name} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
  # 16 bytes a line (CMake's regular expressions have no {n}) keeps the file readable
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n\t" arr "${arr}")
  string(APPEND body "/* ${name} */\nstatic const unsigned char f${i}[] = {\n\t${arr}0x00\n};\n\n")
  string(APPEND table "\t{ \"${name}\", \"${ctype}\", f${i}, ${size}, \"\\\"${etag}\\\"\" },\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE ${OUT}
  "/* Generated from src/admin/dashboard/ by cmake/embed_dashboard.cmake: do not edit. */\n"
  "#include \"admin/admin_int.h\"\n\n"
  "${body}"
  "const struct admin_asset admin_assets[] = {\n${table}};\n"
  "const size_t admin_nassets = ${i};\n")
