#!/bin/sh
# sdk_install: installs the SDK from the build tree into a scratch prefix
# (cmake --install, as a packager would) and builds two tiny programs
# against the *installed* files, one through `pkg-config --cflags --libs
# stratus`, one through CMake's find_package(Stratus); runs both. Checks the
# shared library's SONAME and that it exports stratus_* symbols only.
#   install_test.sh BUILD_SDK_DIR CC [EXTRA_CFLAGS]
set -eu
build=$1 cc=$2 extra=${3:-}
tmp=$(mktemp -d /tmp/sdk-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
lib=$(find "$tmp/prefix" -name 'libstratus.so.0' | head -1)
[ -n "$lib" ] || { echo "libstratus.so.0 not installed"; cat "$tmp/install.log"; exit 1; }
libdir=$(dirname "$lib")
test -f "$tmp/prefix/include/stratus.h"
test -x "$tmp/prefix/bin/stratus"

soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = libstratus.so.0 ] || { echo "SONAME is '$soname'"; exit 1; }
others=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^stratus_' | grep -v '^STRATUS_0\(\.[0-9]*\)\?$' || true)
[ -z "$others" ] || { echo "exported beyond stratus_*:"; echo "$others"; exit 1; }
# a symbol added after 0.1.0 carries the newer version node (stratus.map)
objdump -T "$lib" | grep -q 'STRATUS_0\.1 *stratus_period_issue_flags$' ||
    { echo "stratus_period_issue_flags is not at STRATUS_0.1"; objdump -T "$lib" | grep issue; exit 1; }
objdump -T "$lib" | grep -q 'STRATUS_0\.2 *stratus_instance_snapshot$' ||
    { echo "stratus_instance_snapshot is not at STRATUS_0.2"; objdump -T "$lib" | grep snapshot; exit 1; }

cat >"$tmp/tiny.c" <<'C'
#include <stratus.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    stratus_session *s;
    /* plain http off loopback is refused before any traffic */
    int rc = stratus_session_new(&s, "http://192.0.2.1/", NULL);
    printf("libstratus %s: %s\n", stratus_version(), stratus_strerror(rc));
    return rc == STRATUS_EINVAL && strcmp(stratus_err_name(rc), "EINVAL") == 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs stratus)
echo "pkg-config --cflags --libs stratus: $flags"
# shellcheck disable=SC2086
$cc $extra "$tmp/tiny.c" $flags -Wl,-rpath,"$libdir" -o "$tmp/tiny-pc"
"$tmp/tiny-pc"

mkdir "$tmp/proj"
cp "$tmp/tiny.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(tiny C)
find_package(Stratus 0.1 REQUIRED)
add_executable(tiny tiny.c)
target_link_libraries(tiny PRIVATE Stratus::stratus)
CM
CC=$cc CFLAGS="$extra" LDFLAGS="$extra" cmake -S "$tmp/proj" -B "$tmp/proj/build" \
    -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cmake.log" || { cat "$tmp/cmake.log"; exit 1; }
cmake --build "$tmp/proj/build" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/proj/build/tiny"
echo "sdk_install: ok"
