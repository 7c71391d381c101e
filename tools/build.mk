# tools/: mychat-pcap, the capture reader (issue 7), and mc-pcapgen, the
# generator of the test captures under tests/data/ (not installed).

PCAP_OBJ   := $(B)/tools/mc_pcap.o
PCAPT_OBJ  := $(B)/tools/mychat-pcap.o $(B)/tools/mcp.o $(B)/tools/mcp_stats.o \
              $(B)/tools/mcp_anon.o
PCAPGEN_OBJ := $(B)/tools/mc_pcapgen.o
PROGRAMS   += $(B)/mychat-pcap $(B)/mc-pcapgen

$(B)/mychat-pcap: $(PCAPT_OBJ) $(PCAP_OBJ) $(LIBMC)
	$(call mc_link,libprotobuf-c libpcap libsodium jansson)

$(B)/mc-pcapgen: $(PCAPGEN_OBJ) $(PCAP_OBJ) $(LIBMC)
	$(call mc_link,libprotobuf-c libpcap)

# Rewrites the test captures and the expected outputs of tests/integration/
# pcap.sh; review the diff before committing it.
.PHONY: golden bench-pcap
BENCHES += bench-pcap
golden: $(B)/mychat-pcap $(B)/mc-pcapgen
	@sh tests/integration/pcap.sh --golden

# mychat-pcap stats against a full tshark dissection with the Lua
# dissector, on one generated capture of BENCH_PCAP_N datagrams.
BENCH_PCAP_N ?= 1000000
bench-pcap: $(B)/mychat-pcap $(B)/mc-pcapgen
	@sh tools/bench-pcap.sh $(B) $(BENCH_PCAP_N)
