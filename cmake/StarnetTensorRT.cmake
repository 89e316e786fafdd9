# TensorRT is optional and only located here (its headers; the plugins and the C++ runtime are built when they
# are found, and load TensorRT's libraries at run time). Hint: -DTensorRT_ROOT=/path
# or the TensorRT_ROOT environment variable. Sets STARNET_HAVE_TENSORRT and TensorRT_INCLUDE_DIR.
set(TensorRT_ROOT "$ENV{TensorRT_ROOT}" CACHE PATH "TensorRT installation prefix (optional)")

find_path(TensorRT_INCLUDE_DIR NvInfer.h
  HINTS ${TensorRT_ROOT} ${CUDAToolkit_INCLUDE_DIRS}
  PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu)

if(TensorRT_INCLUDE_DIR)
  set(STARNET_HAVE_TENSORRT ON)
  message(STATUS "starnet: TensorRT headers found in ${TensorRT_INCLUDE_DIR}")
else()
  set(STARNET_HAVE_TENSORRT OFF)
  message(STATUS "starnet: TensorRT headers not found (optional; set TensorRT_ROOT to build the plugins)")
endif()
