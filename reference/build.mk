# reference/: mychat-server and mychat (issue 4).

# The reference programs' core (the SQLite store), also linked into the
# unit tests.
REF_CORE_SRC := reference/mc_sqlstore.c
REF_CORE_OBJ := $(REF_CORE_SRC:%.c=$(B)/%.o)

$(B)/libmcref.a: $(REF_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# mychat-server (issue 4, server half) and mc-probe, the integration tests'
# scripted client. mc_udp (sockets, addresses, clocks) goes into libmcref.a
# for every reference program; mc_authpool is the server's alone.
REF_UDP_OBJ := $(B)/reference/mc_udp.o
$(B)/libmcref.a: $(REF_UDP_OBJ)

SERVER_OBJ := $(B)/reference/mychat-server.o $(B)/reference/mc_authpool.o
PROBE_OBJ  := $(B)/tests/integration/mc_probe.o
FLOOD_OBJ  := $(B)/tests/integration/mc_flood.o
PROGRAMS   += $(B)/mychat-server $(B)/mc-probe $(B)/mc-flood
# What the server links, also the mutant servers (mutants/build.mk): the
# authentication pool is its one threaded part.
SERVER_PKGS := libprotobuf-c sqlite3 libsodium
SERVER_SYSLIBS := -pthread

$(PROBE_OBJ) $(FLOOD_OBJ): CFLAGS_ALL += -Ireference

$(B)/mychat-server: $(SERVER_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,$(SERVER_PKGS),$(SERVER_SYSLIBS))

$(B)/mc-probe: $(PROBE_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c libsodium)

# mc-flood: handshake load for the abuse tests (issue 12).
$(B)/mc-flood: $(FLOOD_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c)

# mychat: the command-line client (terminal and scripted modes).
MYCHAT_OBJ := $(B)/reference/mychat.o $(B)/reference/mc_term.o
PROGRAMS += $(B)/mychat

$(B)/mychat: $(MYCHAT_OBJ) $(B)/libmcref.a $(LIBMC)
	$(call mc_link,libprotobuf-c libedit)
