# Optional CUDA (Open3D style): AUTO enables it when a CUDA compiler is found, ON requires it, OFF skips it.
# Sets STARNET_WITH_CUDA and STARNET_CUDA_ARCHITECTURES.
include(CheckLanguage)

set(STARNET_WITH_CUDA OFF)
if(NOT STARNET_CUDA STREQUAL "OFF")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Turing (T4), Orin (Jetson) and Hopper; overridable with -DSTARNET_CUDA_ARCHITECTURES=...
    set(STARNET_CUDA_ARCHITECTURES "75;87;90" CACHE STRING "CUDA architectures for the kernels")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES ${STARNET_CUDA_ARCHITECTURES})
    endif()
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(STARNET_WITH_CUDA ON)
    message(STATUS "starnet: CUDA ${CMAKE_CUDA_COMPILER_VERSION} kernels for sm ${STARNET_CUDA_ARCHITECTURES}")
  elseif(STARNET_CUDA STREQUAL "ON")
    message(FATAL_ERROR "STARNET_CUDA=ON but no CUDA compiler was found (set CUDACXX or CMAKE_CUDA_COMPILER)")
  else()
    message(STATUS "starnet: no CUDA compiler found, building the CPU core only")
  endif()
else()
  message(STATUS "starnet: CUDA disabled (STARNET_CUDA=OFF)")
endif()

# Warnings on our own sources only; never -march=native (wheels must run on any x86-64 / aarch64 CPU).
# -ffp-contract=off keeps the host resize coefficients bit-identical to OpenCV's (no FMA contraction on aarch64).
function(starnet_compile_options target)
  target_compile_options(${target} PRIVATE
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU,Clang,AppleClang>>:-Wall -Wextra -ffp-contract=off>
    $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:MSVC>>:/W4>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-ffp-contract=off>)
endfunction()
