# simulator/: mychat-sim (issue 5), included by the top-level Makefile.

SIM_SRC := simulator/main.c simulator/sim.c simulator/sim_opts.c \
           simulator/sim_report.c simulator/sim_pcap.c simulator/sim_hist.c \
           simulator/sim_threshold.c simulator/sim_json.c simulator/sim_html.c \
           simulator/sim_pool.c
SIM_OBJ := $(SIM_SRC:%.c=$(B)/%.o)
SIM_BIN := $(B)/mychat-sim

# The histogram's own CUnit suite, a separate program run by
# tests/integration/sim.sh (simulator code stays out of lib/ and mc-test).
SIM_HIST_TEST := $(B)/sim-hist-test
SIM_HIST_TEST_OBJ := $(B)/simulator/sim_hist_test.o $(B)/simulator/sim_hist.o \
                     $(B)/simulator/sim_pool_test.o $(B)/simulator/sim_pool.o

PROGRAMS += $(SIM_BIN) $(SIM_HIST_TEST)

$(SIM_BIN): $(SIM_OBJ) $(LIBMC)
	$(call mc_link,libprotobuf-c libpcap libsodium jansson,-lm -pthread)

$(SIM_HIST_TEST): $(SIM_HIST_TEST_OBJ)
	$(call mc_link,cunit,-lm)

# make bench-sim: the largest client count that keeps 100 % delivery at 10 %
# loss in a fixed virtual time, and the simulator's CPU time per message.
BENCH_SIM_COUNTS ?= 1000 2000 5000 10000 20000 50000 100000
BENCH_SIM_WALL ?= 120
.PHONY: bench-sim
BENCHES += bench-sim
bench-sim: $(SIM_BIN)
	@sh simulator/bench.sh $(SIM_BIN) $(BENCH_SIM_WALL) $(BENCH_SIM_COUNTS)
