# Cross-compiles nibble for 64-bit Arm with Debian's g++-aarch64-linux-gnu; programs
# and tests run under qemu-aarch64 (Debian qemu-user). QEMU_CPU picks the CPU model
# (cortex-a76 has the dot-product extension, cortex-a53 has not).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# The cross sysroot, and / for Debian's multiarch arm64 libraries (/usr/lib/aarch64-linux-gnu).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# Header-only packages (xsimd, Catch2, fmt in header-only mode) come from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
# Programs link statically: a dynamic binary would mix the cross sysroot's loader with
# the multiarch arm64 libc that libpcre2-dev:arm64 brings, and threads hang under qemu.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# fmt and xsimd are used header-only; Debian installs their CMake files under the
# host's multiarch folder, so point at those rather than installing arm64 copies.
execute_process(COMMAND gcc -print-multiarch OUTPUT_VARIABLE host_multiarch OUTPUT_STRIP_TRAILING_WHITESPACE)
foreach(package fmt xsimd)
  if(EXISTS "/usr/lib/${host_multiarch}/cmake/${package}")
    set(${package}_DIR "/usr/lib/${host_multiarch}/cmake/${package}" CACHE PATH "")
  endif()
endforeach()

# Static programs need the static OpenMP runtime; also prefer static libraries (PCRE2).
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libgomp.a OUTPUT_VARIABLE static_gomp
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(OpenMP_gomp_LIBRARY "${static_gomp}" CACHE FILEPATH "")
set(NIBBLE_PREFER_STATIC ON CACHE BOOL "")
set(NIBBLE_FMT_HEADER_ONLY ON CACHE BOOL "")
