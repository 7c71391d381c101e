# conformance/: the conformance suite (issue 6). -included by the Makefile.
#
#   $(B)/mychat-conform   replays captures/*.pcap against a server
#   $(B)/mc-record        records them from the reference server
#   make captures         regenerates captures/ (conformance/captures.sh)
#   make faulty           deliberately broken servers, $(B)/faulty/<name>/
#                         (build/faulty/<name>/mychat-server by default)

CONF_COMMON_OBJ := $(B)/conformance/mc_capture.o $(B)/tools/mc_pcap.o
CONF_OBJ        := $(B)/conformance/mychat-conform.o $(B)/conformance/mc_replay.o \
                   $(B)/conformance/mc_target.o $(B)/conformance/mc_spec.o \
                   $(B)/conformance/mc_evidence.o $(B)/conformance/mc_report.o \
                   $(B)/tools/mcp.o
RECORD_OBJ      := $(B)/conformance/mc_record.o
PROGRAMS        += $(B)/mychat-conform $(B)/mc-record

$(CONF_COMMON_OBJ) $(CONF_OBJ) $(RECORD_OBJ): CFLAGS_ALL += -Ireference -Itools

$(B)/mychat-conform: $(CONF_OBJ) $(CONF_COMMON_OBJ) $(B)/libmcref.a $(LIBMC)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL)

$(B)/mc-record: $(RECORD_OBJ) $(CONF_COMMON_OBJ) $(B)/libmcref.a $(LIBMC)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL)

.PHONY: captures faulty
captures: $(B)/mc-record $(B)/mychat-server
	sh conformance/captures.sh $(B)

# Each fault is one MC_FAULT_* switch in lib/mc_server.c; the server is
# built from the same sources with it defined, in its own directory.
FAULTS := $(shell sed -n 's/^\([A-Z_][A-Z_]*\):.*/\1/p' conformance/faults.txt 2>/dev/null)
FAULTY_SERVERS := $(FAULTS:%=$(B)/faulty/%/mychat-server)
faulty: $(FAULTY_SERVERS)

# tests/integration/conform.sh runs them.
test: faulty

$(B)/faulty/%/mychat-server: $(LIB_SRC) $(wildcard reference/*.c reference/*.h lib/*.h) proto/mychat.proto
	@$(MAKE) --no-print-directory B=$(B)/faulty/$* \
	  CFLAGS="$(CFLAGS) -DMC_FAULT_$*" $(B)/faulty/$*/mychat-server

-include $(CONF_OBJ:.o=.d) $(RECORD_OBJ:.o=.d) $(CONF_COMMON_OBJ:.o=.d)
