# reference/: mychat-server and mychat (issue 4).

# The reference programs' core (the SQLite store), also linked into the
# unit tests.
REF_CORE_SRC := reference/mc_sqlstore.c
REF_CORE_OBJ := $(REF_CORE_SRC:%.c=$(B)/%.o)

$(B)/libmcref.a: $(REF_CORE_OBJ)
	rm -f $@ && ar rcs $@ $^
