# bench/: mc-bench-server, the reference server's throughput and memory
# benchmark (issue 4). `make bench-server` runs it; `make bench` runs every
# benchmark. Neither is part of `make test`: the figures are ratios against
# a baseline of the same run, never pass/fail timings.

BENCH_SERVER_OBJ := $(B)/bench/mc_bench_server.o
PROGRAMS += $(B)/mc-bench-server

$(BENCH_SERVER_OBJ): CFLAGS_ALL += -Ireference

$(B)/mc-bench-server: $(BENCH_SERVER_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c sqlite3 libsodium)

# mc-loadgen: a load generator written against the installed API alone.
# Its include path is -Ilib only, never build/gen, so a public header that
# came to need the generated protobuf-c header breaks this build; it links
# what mychat.pc tells an installed program to (tests/integration/loadgen.sh
# runs it).
LOADGEN_OBJ := $(B)/bench/mc_loadgen.o
PROGRAMS += $(B)/mc-loadgen

$(LOADGEN_OBJ): MC_INCLUDES := -Ilib

$(B)/mc-loadgen: $(LOADGEN_OBJ) $(LIBMC)
	$(call mc_link,$(LIBMC_PKGS))

# Extra flags for the run, e.g. BENCH_SERVER_FLAGS="--seconds 5".
BENCH_SERVER_FLAGS ?=

.PHONY: bench-server
BENCHES += bench-server
bench-server: $(B)/mc-bench-server $(B)/mychat-server
	$(B)/mc-bench-server --server $(B)/mychat-server $(BENCH_SERVER_FLAGS)
