# conformance/: the conformance suite (issue 6), included by the Makefile.
#
#   $(B)/mychat-conform   replays captures/*.pcap against a server
#   $(B)/mc-record        records them from the reference server
#   make captures         regenerates captures/ (conformance/captures.sh)
#
# The deliberately broken servers are mutants now (mutants/build.mk).

CONF_COMMON_OBJ := $(B)/conformance/mc_capture.o $(B)/tools/mc_pcap.o
CONF_OBJ        := $(B)/conformance/mychat-conform.o $(B)/conformance/mc_replay.o \
                   $(B)/conformance/mc_target.o $(B)/conformance/mc_spec.o \
                   $(B)/conformance/mc_evidence.o $(B)/conformance/mc_report.o \
                   $(B)/tools/mcp.o
RECORD_OBJ      := $(B)/conformance/mc_record.o
PROGRAMS        += $(B)/mychat-conform $(B)/mc-record

$(CONF_COMMON_OBJ) $(CONF_OBJ) $(RECORD_OBJ): CFLAGS_ALL += -Ireference -Itools

$(B)/mychat-conform: $(CONF_OBJ) $(CONF_COMMON_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c cunit libpcap jansson,-lm -pthread)

$(B)/mc-record: $(RECORD_OBJ) $(CONF_COMMON_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c libpcap)

.PHONY: captures
captures: $(B)/mc-record $(B)/mychat-server
	sh conformance/captures.sh $(B)
