# fuzz/fuzz.mk: builds and runs the libFuzzer targets with clang.
# Used by the top-level `make fuzz`, or directly:
#   make -f fuzz/fuzz.mk B=build/fuzz FUZZ_SECONDS=N run
#   make -f fuzz/fuzz.mk B=build/fuzz seeds    (rewrites fuzz/seeds/decode/)
# Every fuzz/fuzz_X.c becomes $(B)/fuzz_X, linked with libmychat.a, all
# compiled by the rules of mk/common.mk with ASan and UBSan (every report
# aborts) and libFuzzer's coverage. `run` fuzzes each target for
# FUZZ_SECONDS on the corpus $(B)/corpus/X, seeded from fuzz/seeds/X when
# that exists, prints libFuzzer's execution count and fails on any crash
# (the input is kept as $(B)/crash-*).

B            ?= build/fuzz
# FUZZ_CC, not CC, picks the compiler: a CC=... given to the top-level make
# reaches this one too, so this build's compiler, optimisation and
# sanitizers override whatever it inherits.
FUZZ_CC      ?= clang
override CC  := $(FUZZ_CC)
override OPT := -O1 -g
# The library and targets are instrumented for coverage; only the targets'
# link adds libFuzzer's main.
override SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer -fsanitize=fuzzer-no-link
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 1400
include mk/common.mk
.DEFAULT_GOAL := all

FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_NAMES:%=$(B)/fuzz_%)

.PHONY: all run seeds
all: $(FUZZ_BIN)

# Keep the objects between runs (make would delete them as intermediates).
.SECONDARY:

$(B)/fuzz_%: $(B)/fuzz/fuzz_%.o $(LIBMC)
	$(call mc_link,$(LIBMC_PKGS),-fsanitize=fuzzer)

run: $(FUZZ_BIN)
	@for t in $(FUZZ_NAMES); do \
	  corpus=$(B)/corpus/$$t; mkdir -p $$corpus; \
	  seeds=; [ -d fuzz/seeds/$$t ] && seeds=fuzz/seeds/$$t; \
	  echo "== fuzz_$$t: $(FUZZ_SECONDS) s on $$corpus $$seeds"; \
	  if $(B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	       -max_len=$(FUZZ_MAX_LEN) -artifact_prefix=$(B)/ \
	       $$corpus $$seeds >$(B)/fuzz_$$t.log 2>&1; then \
	    grep -E '^Done [0-9]+ runs' $(B)/fuzz_$$t.log || \
	      { echo "fuzz_$$t: no run count in $(B)/fuzz_$$t.log"; exit 1; }; \
	  else \
	    tail -n 40 $(B)/fuzz_$$t.log; \
	    echo "fuzz_$$t: FAILED (log: $(B)/fuzz_$$t.log)"; exit 1; \
	  fi; \
	done

# The seed generator is a plain program (no libFuzzer main) using the codec.
$(B)/mkseeds: $(B)/fuzz/mkseeds.o $(LIBMC)
	$(call mc_link,$(LIBMC_PKGS))

seeds: $(B)/mkseeds
	rm -rf fuzz/seeds/decode && mkdir -p fuzz/seeds/decode
	$(B)/mkseeds fuzz/seeds/decode
