# reference/: mychat-server and mychat (issue 4).

# The reference programs' core (the SQLite store), also linked into the
# unit tests.
REF_CORE_SRC := reference/mc_sqlstore.c
REF_CORE_OBJ := $(REF_CORE_SRC:%.c=$(B)/%.o)

$(B)/libmcref.a: $(REF_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

# mychat: the command-line client (terminal and scripted modes).
MYCHAT_OBJ := $(B)/reference/mychat.o $(B)/reference/mc_udp.o
PROGRAMS += $(B)/mychat

$(B)/mychat: $(MYCHAT_OBJ) $(LIBMC)
	$(CC) $(SAN) -o $@ $(MYCHAT_OBJ) $(LIBMC) $(LDLIBS_ALL)

-include $(B)/reference/mychat.d
