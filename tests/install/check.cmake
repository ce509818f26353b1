# CTest's install_pkgconfig: installs the build into a fresh prefix, builds
# tests/install/consumer.c against it with only `pkg-config --cflags --libs
# cipherl`, and runs it. Run as
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DCC=... [-DEXTRA_FLAGS=...] -P check.cmake
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR CC)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check.cmake: -D${v}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}${err}")
endif()

file(GLOB_RECURSE pc_files "${prefix}/*/cipherl.pc")
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one installed cipherl.pc under ${prefix}, found ${n}: ${pc_files}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
foreach(f include/cipherl/ckks.h include/cipherl/rl.h bin/cipherl)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "${f} was not installed under ${prefix}")
  endif()
endforeach()

execute_process(COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dir}"
                        pkg-config --cflags --libs cipherl
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs cipherl failed (${rc}): ${err}")
endif()
# the .pc file must point into the prefix it was installed to (through
# pcfiledir, or the prefix itself)
string(FIND "${flags}" "-I${pc_dir}/" at_pc)
string(FIND "${flags}" "-I${prefix}/" at_prefix)
if(at_pc EQUAL -1 AND at_prefix EQUAL -1)
  message(FATAL_ERROR "pkg-config's flags do not point into ${prefix}: ${flags}")
endif()
separate_arguments(flag_list UNIX_COMMAND "${flags}")
separate_arguments(extra_list UNIX_COMMAND "${EXTRA_FLAGS}")

set(exe "${WORK_DIR}/consumer")
execute_process(COMMAND "${CC}" -std=c17 -Wall -Wextra -Werror ${extra_list}
                        "${SOURCE_DIR}/tests/install/consumer.c" -o "${exe}" ${flag_list}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer with '${flags}' failed (${rc}):\n${out}${err}")
endif()

# a shared libcipherl is found through its libdir
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dir}"
                        pkg-config --variable=libdir cipherl
                OUTPUT_VARIABLE libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${libdir}" "${exe}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "the consumer failed (${rc}):\n${out}${err}")
endif()
# the library's cl_version_string() is the .pc file's Version
execute_process(COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dir}"
                        pkg-config --modversion cipherl
                OUTPUT_VARIABLE modversion OUTPUT_STRIP_TRAILING_WHITESPACE)
string(STRIP "${out}" line)
if(NOT line STREQUAL "consumer ok ${modversion}")
  message(FATAL_ERROR "the consumer printed '${line}', expected 'consumer ok ${modversion}'")
endif()
message(STATUS "installed to ${prefix}; consumer built with: ${flags}; it printed: ${out}")
