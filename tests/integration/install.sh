#!/bin/sh
# `make install` into a staging tree (issue 14): programs, man pages,
# completion, library, headers and mychat.pc; then a small C program built
# with nothing but `pkg-config --cflags --libs mychat` against that tree.
# Run by `make test` (and `make asan`, with B=build/asan).
. "$(dirname "$0")/common.sh"
PROGS="mychat-server mychat mychat-sim mychat-conform mychat-pcap"
STAGE="$T/stage"

t_install() {
  make -s --no-print-directory B="$B" PREFIX=/usr DESTDIR="$STAGE" install \
    > "$T/install.out" 2>&1 || { cat "$T/install.out"; return 1; }
  for p in $PROGS; do
    [ -x "$STAGE/usr/bin/$p" ] && [ -s "$STAGE/usr/share/man/man1/$p.1" ] &&
      [ -s "$STAGE/usr/share/bash-completion/completions/$p" ] ||
      { echo "  $p: program, man page or completion missing"; return 1; }
  done
  [ -s "$STAGE/usr/lib/libmychat.a" ] && [ -s "$STAGE/usr/lib/pkgconfig/mychat.pc" ] &&
    [ -s "$STAGE/usr/include/mychat/mc_codec.h" ] &&
    ! ls "$STAGE/usr/include/mychat/" | grep -q '_int\.h$\|_pb\.h$\|pb-c\.h$'
}

# Each installed header compiles on its own with nothing but the staged
# include directory: the public API needs no generated protobuf-c header.
t_headers_alone() {
  for h in "$STAGE"/usr/include/mychat/*.h; do
    printf '#include "%s"\n' "$(basename "$h")" |
      cc -std=c11 -Wall -Wextra -Werror -fsyntax-only \
        -I"$STAGE/usr/include/mychat" -x c - ||
      { echo "  $(basename "$h") does not compile alone"; return 1; }
  done
}

t_version() {
  for p in $PROGS; do
    out=$("$STAGE/usr/bin/$p" --version 2>&1) && echo "$out" | grep -q "^$p [0-9]" ||
      { echo "  $p --version: $out"; return 1; }
  done
}

# One error style for every program: "program: what: why", then the hint.
t_error_style() {
  for p in $PROGS; do
    "$STAGE/usr/bin/$p" --bogus > /dev/null 2> "$T/$p.err"
    rc=$?
    [ "$rc" -eq 2 ] && grep -qE "^$p: --bogus: unknown (option|command)\$" "$T/$p.err" &&
      grep -q "^Try '$p --help' for usage.\$" "$T/$p.err" ||
      { echo "  $p --bogus (exit $rc):"; cat "$T/$p.err"; return 1; }
  done
}

t_man_renders() {
  for p in $PROGS; do
    MANWIDTH=80 man -l "$STAGE/usr/share/man/man1/$p.1" > "$T/$p.txt" 2>&1 &&
      grep -q "^NAME" "$T/$p.txt" && grep -q -- "--help" "$T/$p.txt" ||
      { echo "  man -l $p.1 did not render"; return 1; }
  done
}

t_pkgconfig_program() {
  export PKG_CONFIG_PATH="$STAGE/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$STAGE"
  flags=$(pkg-config --cflags --libs mychat) || return 1
  # Only the staged tree: no -I into the source or build tree.
  echo "$flags" | grep -q -- "-I$STAGE/usr/include/mychat" || return 1
  san=""
  nm "$STAGE/usr/lib/libmychat.a" 2>/dev/null | grep -q __asan_ &&
    san="-fsanitize=address,undefined"
  # shellcheck disable=SC2086 # flags are words
  cc -std=c11 -Wall -Werror $san -o "$T/hello" tests/data/install/hello.c $flags ||
    return 1
  "$T/hello" > "$T/hello.out" &&
    grep -q "^login: [0-9]* bytes, peek ok, body login, nonce set; AUTH_FAILED; out of memory$" \
      "$T/hello.out" || { cat "$T/hello.out"; return 1; }
}

t_completion() {
  command -v bash > /dev/null || return 0
  out=$(PATH="$STAGE/usr/bin:$PATH" bash -c '
    . "$1/usr/share/bash-completion/completions/mychat-server"
    COMP_WORDS=(mychat-server --no-c); COMP_CWORD=1; _mychat_complete
    printf "%s\n" "${COMPREPLY[@]}"
    COMP_WORDS=(mychat-pcap du); COMP_CWORD=1; _mychat_complete
    printf "%s\n" "${COMPREPLY[@]}"' _ "$STAGE")
  echo "$out" | grep -qx -- "--no-console" && echo "$out" | grep -qx dump
}

check "make install DESTDIR=... PREFIX=/usr puts everything in place" t_install
check "every installed header compiles alone, without build/gen" t_headers_alone
check "every program answers --version" t_version
check "every program reports a bad option as 'program: what: why', exit 2" t_error_style
check "man -l renders every page" t_man_renders
check "a program built with pkg-config against the staged tree runs" t_pkgconfig_program
check "bash completion offers options and commands" t_completion
finish
