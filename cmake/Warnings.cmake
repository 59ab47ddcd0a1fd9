# SPDX-License-Identifier: MIT
# Warnings and hardening flags shared by every target.
add_compile_options(
  -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
  -Wimplicit-fallthrough -Wundef -Wwrite-strings -Werror=implicit-function-declaration
  -fstack-protector-strong -fno-common)
# Messages are cut to fixed buffers on purpose (struct bg_error); gcc cannot tell.
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  add_compile_options(-Wno-format-truncation)
endif()
if(NOT BANGER_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_definitions(_FORTIFY_SOURCE=3)
endif()
if(BANGER_WERROR)
  add_compile_options(-Werror)
endif()
add_link_options(-Wl,-z,relro -Wl,-z,now)
