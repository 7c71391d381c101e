# MyChat Lab: one non-recursive Makefile. Outputs go to $(B)/ (build/ by
# default, build/asan/ for the sanitizer build). `make help` lists targets.

B        ?= build
CC       ?= cc
PKGS     := libprotobuf-c cunit libpcap sqlite3 libsodium libedit jansson
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat-security -Wwrite-strings
CSTD     := -std=c11 -D_GNU_SOURCE
OPT      ?= -O2 -g
SAN      ?=
WERROR   ?= $(if $(CI),-Werror,)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(WERROR) $(SAN) -MMD -MP \
             -Ilib -I$(B)/gen $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm $(LDLIBS)
# What libmychat.a itself needs (as mychat.pc says): a program of the core
# alone links this, not every package above.
LIBMC_LIBS = $(shell pkg-config --libs libprotobuf-c libsodium 2>/dev/null) $(LDLIBS)

DEPS_STAMP := build/.deps-ok

GEN_C    := $(B)/gen/mychat.pb-c.c
GEN_H    := $(B)/gen/mychat.pb-c.h
LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/mychat.pb-c.o
LIBMC    := $(B)/libmychat.a

TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
TEST_BIN := $(B)/mc-test

PROGRAMS :=

.PHONY: all deps test unit demo asan fuzz bench clean help
all: $(DEPS_STAMP) $(LIBMC) $(TEST_BIN) programs

help:
	@echo "make deps   install missing Debian packages (as root)"
	@echo "make        build the library, programs and tests"
	@echo "make test   build and run every test"
	@echo "make unit   the CUnit tests only (SUITE=name for one suite)"
	@echo "make demo   build and run the simulated chat demo"
	@echo "make asan   run the tests under AddressSanitizer + UBSan"
	@echo "make fuzz   run the libFuzzer targets (FUZZ_SECONDS each, clang)"
	@echo "make bench  run the benchmarks (bench-server, bench-sim, bench-pcap)"
	@echo "make captures  regenerate captures/ from the reference server"
	@echo "make mutants-build  build every mutant and variant (make test does)"
	@echo "make mutants   the conformance suite against every mutant server"
	@echo "               (mutants/*.mut) and allowed variant; the score"
	@echo "make man    man pages of the programs, in \$$(B)/man (help2man)"
	@echo "make install   programs, man pages, completion, library, headers,"
	@echo "               mychat.pc (PREFIX=/usr/local, DESTDIR=)"
	@echo "make uninstall remove what make install put in place"
	@echo "make clean  remove build/"

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(@D) && touch $@

# The generated protobuf-c code must exist before anything includes it.
$(GEN_C) $(GEN_H) &: proto/mychat.proto | $(DEPS_STAMP)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/mychat.proto

# Generated code is not ours to warn about.
$(B)/gen/mychat.pb-c.o: $(GEN_C)
	$(CC) $(CSTD) $(OPT) $(SAN) -I$(B)/gen $(PKG_CFLAGS) -c $< -o $@

$(B)/%.o: %.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBMC): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJ) $(B)/libmcref.a $(LIBMC)
	$(CC) $(SAN) -o $@ $(TEST_OBJ) $(B)/libmcref.a $(LIBMC) $(LDLIBS_ALL)

# Every fragment exists; a missing one is an error, not a silent skip.
include reference/build.mk
include simulator/build.mk
include conformance/build.mk
include mutants/build.mk
include tools/build.mk
include bench/build.mk
include scripts/install.mk

programs: $(PROGRAMS)

# Unit and integration tests; each suite may be picked with SUITE=name.
unit: $(TEST_BIN)
	$(TEST_BIN) $(SUITE)

test: all
	@$(MAKE) --no-print-directory unit
	@for t in tests/integration/*.sh; do \
	  [ "$$t" = tests/integration/common.sh ] && continue; \
	  echo "== $$t"; B=$(B) sh "$$t" || exit 1; \
	done

asan:
	@$(MAKE) --no-print-directory B=build/asan OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  test

FUZZ_SECONDS ?= 60
fuzz: $(DEPS_STAMP)
	@sh scripts/deps.sh clang
	@$(MAKE) --no-print-directory -f fuzz/fuzz.mk B=build/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) run

# Benchmarks, not part of `make test`: each module's fragment defines its
# own (bench-server, bench-sim, bench-pcap), run one after the other.
BENCHES := bench-server bench-sim bench-pcap
bench: all
	@for t in $(BENCHES); do $(MAKE) --no-print-directory $$t || exit 1; done

demo: all
	@sh scripts/demo.sh $(B)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(REF_CORE_OBJ:.o=.d)
