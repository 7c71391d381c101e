# MyChat Lab: one non-recursive Makefile, its rules in mk/common.mk and each
# directory's build.mk. Outputs go to $(B)/ (build/ by default, build/asan/
# for the sanitizer build). `make help` lists targets.

B        ?= build
CC       ?= cc
OPT      ?= -O2 -g
SAN      ?=
include mk/common.mk
.DEFAULT_GOAL := all

TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
TEST_BIN := $(B)/mc-test

# Each fragment adds its programs, and its benchmarks (run by make bench).
PROGRAMS :=
BENCHES  :=

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

$(TEST_BIN): $(TEST_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c cunit sqlite3 libsodium)

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

# Benchmarks, not part of `make test`: run one after the other.
bench: all
	@for t in $(BENCHES); do $(MAKE) --no-print-directory $$t || exit 1; done

demo: all
	@sh scripts/demo.sh $(B)

clean:
	rm -rf build
