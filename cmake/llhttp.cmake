# llhttp: the system library where the distribution ships one (pkg-config or
# CMake config), else Debian 12's node-llhttp sources compiled once here.
find_package(llhttp QUIET CONFIG)
if(TARGET llhttp::llhttp_static OR TARGET llhttp::llhttp_shared OR TARGET llhttp::llhttp)
    if(NOT TARGET llhttp::llhttp)
        add_library(llhttp::llhttp INTERFACE IMPORTED)
        if(TARGET llhttp::llhttp_shared)
            target_link_libraries(llhttp::llhttp INTERFACE llhttp::llhttp_shared)
        else()
            target_link_libraries(llhttp::llhttp INTERFACE llhttp::llhttp_static)
        endif()
    endif()
    message(STATUS "llhttp: system library (CMake config)")
    return()
endif()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
    pkg_check_modules(LLHTTP QUIET IMPORTED_TARGET libllhttp)
    if(LLHTTP_FOUND)
        add_library(llhttp::llhttp ALIAS PkgConfig::LLHTTP)
        message(STATUS "llhttp: system library ${LLHTTP_VERSION} (pkg-config)")
        return()
    endif()
endif()

find_path(LLHTTP_SOURCE_DIR llhttp.c api.c http.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
find_path(LLHTTP_INCLUDE_DIR llhttp.h PATHS /usr/share/include/llhttp NO_DEFAULT_PATH)
if(NOT LLHTTP_SOURCE_DIR OR NOT LLHTTP_INCLUDE_DIR)
    message(FATAL_ERROR "llhttp not found: install libllhttp-dev, or node-llhttp on Debian 12")
endif()
add_library(llhttp_vendored STATIC
    ${LLHTTP_SOURCE_DIR}/llhttp.c ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c)
target_include_directories(llhttp_vendored SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
# The sources hold two parsers; the strict one checks chunk framing (the CRLF after each
# chunk's data and size line) instead of skipping two bytes: without it, a request can be
# smuggled behind a front end that parses the framing otherwise. Libraries are strict.
target_compile_definitions(llhttp_vendored PUBLIC LLHTTP_STRICT_MODE=1)
# Generated code: its own warnings are not ours to fix.
target_compile_options(llhttp_vendored PRIVATE -w -Wno-error)
add_library(llhttp::llhttp ALIAS llhttp_vendored)
message(STATUS "llhttp: compiled from ${LLHTTP_SOURCE_DIR}")
