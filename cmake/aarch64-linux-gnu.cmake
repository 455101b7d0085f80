# Cross build for 64-bit Arm Linux with Debian's gcc-aarch64-linux-gnu and the arm64 multiarch packages
# (scripts/aarch64.sh installs them and uses this file). Multiarch puts the arm64 libraries beside the host's
# (/usr/lib/aarch64-linux-gnu), so the sysroot is / unless VKSLM_AARCH64_SYSROOT names another. Shaders are
# compiled by the host's glslang and SPIR-V tools (SPIR-V is portable); arm64 programs that the build or
# ctest runs go through qemu user mode, called explicitly because binfmt_misc may not be mounted.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

set(VKSLM_AARCH64_SYSROOT "/" CACHE PATH "root holding the arm64 libraries and ld-linux-aarch64.so.1")
set(VKSLM_QEMU_AARCH64 "/usr/bin/qemu-aarch64-static" CACHE FILEPATH "qemu user-mode emulator for arm64")
set(CMAKE_CROSSCOMPILING_EMULATOR "${VKSLM_QEMU_AARCH64};-L;${VKSLM_AARCH64_SYSROOT}")

# pkg-config reads the arm64 .pc files only (the host's would link x86-64 libraries)
set(ENV{PKG_CONFIG_LIBDIR} "${VKSLM_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${VKSLM_AARCH64_SYSROOT}/usr/share/pkgconfig")
if(NOT VKSLM_AARCH64_SYSROOT STREQUAL "/")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${VKSLM_AARCH64_SYSROOT}")
  set(CMAKE_FIND_ROOT_PATH "${VKSLM_AARCH64_SYSROOT}")
endif()
# programs (glslangValidator, spirv-val, spirv-opt) are the host's; libraries and headers the target's
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
