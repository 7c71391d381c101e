# bench/: mc-bench-server, the reference server's throughput and memory
# benchmark (issue 4). `make bench-server` runs it; `make bench` runs every
# benchmark. Neither is part of `make test`: the figures are ratios against
# a baseline of the same run, never pass/fail timings.

BENCH_SERVER_OBJ := $(B)/bench/mc_bench_server.o
PROGRAMS += $(B)/mc-bench-server

$(BENCH_SERVER_OBJ): CFLAGS_ALL += -Ireference

$(B)/mc-bench-server: $(BENCH_SERVER_OBJ) $(B)/libmcref.a $(LIBMC)
	$(CC) $(SAN) -o $@ $(BENCH_SERVER_OBJ) $(B)/libmcref.a $(LIBMC) $(LDLIBS_ALL)

# mc-loadgen: a load generator written against the installed API alone.
# Its rule has only -Ilib on the include path, never build/gen, so a public
# header that came to need the generated protobuf-c header breaks this build
# (tests/integration/loadgen.sh runs it).
LOADGEN_OBJ := $(B)/bench/mc_loadgen.o
PROGRAMS += $(B)/mc-loadgen

$(LOADGEN_OBJ): bench/mc_loadgen.c
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(OPT) $(WARN) $(WERROR) $(SAN) -MMD -MP -Ilib $(CFLAGS) -c $< -o $@

$(B)/mc-loadgen: $(LOADGEN_OBJ) $(LIBMC)
	$(CC) $(SAN) -o $@ $(LOADGEN_OBJ) $(LIBMC) $(LIBMC_LIBS)

# Extra flags for the run, e.g. BENCH_SERVER_FLAGS="--seconds 5".
BENCH_SERVER_FLAGS ?=

.PHONY: bench-server
bench-server: $(B)/mc-bench-server $(B)/mychat-server
	$(B)/mc-bench-server --server $(B)/mychat-server $(BENCH_SERVER_FLAGS)

-include $(BENCH_SERVER_OBJ:.o=.d) $(LOADGEN_OBJ:.o=.d)
