# fuzz/fuzz.mk: builds and runs the libFuzzer targets with clang.
# Used by the top-level `make fuzz`, or directly:
#   make -f fuzz/fuzz.mk B=build/fuzz FUZZ_SECONDS=N run
#   make -f fuzz/fuzz.mk B=build/fuzz seeds    (rewrites fuzz/seeds/decode/)
# Every fuzz/fuzz_X.c becomes $(B)/fuzz_X, linked with the library sources
# and the generated protobuf-c code, all built with ASan and UBSan (every
# report aborts) and libFuzzer's coverage. `run` fuzzes each target for
# FUZZ_SECONDS on the corpus $(B)/corpus/X, seeded from fuzz/seeds/X when
# that exists, prints libFuzzer's execution count and fails on any crash
# (the input is kept as $(B)/crash-*).

B            ?= build/fuzz
# Not CC: a CC=... given to the top-level make reaches this one too.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 1400
FUZZ_PKGS    ?= libprotobuf-c libsodium

PKG_CFLAGS := $(shell pkg-config --cflags $(FUZZ_PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(FUZZ_PKGS))
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat-security -Wwrite-strings
CFLAGS_FZ  := -std=c11 -D_GNU_SOURCE -g -O1 $(WARN) $(SAN) \
              -Ilib -I$(B)/gen $(PKG_CFLAGS)

GEN_C      := $(B)/gen/mychat.pb-c.c
GEN_H      := $(B)/gen/mychat.pb-c.h
LIB_OBJ    := $(patsubst %.c,$(B)/%.o,$(wildcard lib/*.c)) $(B)/gen/mychat.pb-c.o
FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_NAMES:%=$(B)/fuzz_%)

.PHONY: all run seeds
all: $(FUZZ_BIN)

# Keep the objects between runs (make would delete them as intermediates).
.SECONDARY:

$(GEN_C) $(GEN_H) &: proto/mychat.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/mychat.proto

# Generated code is not ours to warn about.
$(B)/gen/mychat.pb-c.o: $(GEN_C)
	$(FUZZ_CC) -std=c11 -g -O1 $(SAN) -fsanitize=fuzzer-no-link -I$(B)/gen \
	  $(PKG_CFLAGS) -c $< -o $@

# The library is instrumented for coverage but gets libFuzzer's main only in
# the targets' link.
$(B)/%.o: %.c $(GEN_H)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS_FZ) -MMD -MP -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz_%: fuzz/fuzz_%.c $(LIB_OBJ)
	$(FUZZ_CC) $(CFLAGS_FZ) -MMD -MP -fsanitize=fuzzer -o $@ $< $(LIB_OBJ) \
	  $(PKG_LIBS)

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
$(B)/mkseeds: fuzz/mkseeds.c $(GEN_C) $(wildcard lib/*.c)
	$(FUZZ_CC) $(CFLAGS_FZ) -o $@ $< $(wildcard lib/*.c) $(GEN_C) $(PKG_LIBS)

seeds: $(B)/mkseeds
	rm -rf fuzz/seeds/decode && mkdir -p fuzz/seeds/decode
	$(B)/mkseeds fuzz/seeds/decode

-include $(LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d)
