# mk/common.mk: the compile and link rules every build of the tree shares,
# included by the Makefile and by fuzz/fuzz.mk, so the two cannot drift.
# The including file sets B (output directory), CC, OPT and SAN first, and
# names its own .DEFAULT_GOAL (the first rule here would otherwise be it).
#
# A program's rule lists its objects and archives as prerequisites, in link
# order, and names in its recipe the packages (pkg-config names) and system
# libraries it uses, and no others:
#
#   $(B)/mc-x: $(X_OBJ) $(B)/libmcref.a $(LIBMC)
#   	$(call mc_link,libprotobuf-c sqlite3,-lm)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat-security -Wwrite-strings
CSTD     := -std=c11 -D_GNU_SOURCE
WERROR   ?= $(if $(CI),-Werror,)
# Every package any program uses; compiling sees all their headers, linking
# each program only its own (mc_link).
PKGS     := libprotobuf-c cunit libpcap sqlite3 libsodium libedit jansson
# Recursive: looked up when used, so after make deps has installed them.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# What libmychat.a itself needs, as the installed mychat.pc says.
LIBMC_PKGS := libprotobuf-c libsodium
# An object may set its own include path (the public-API program drops
# $(B)/gen from it).
MC_INCLUDES = -Ilib -I$(B)/gen $(PKG_CFLAGS)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(WERROR) $(SAN) -MMD -MP \
             $(MC_INCLUDES) $(CFLAGS)

# $(call mc_libs,PACKAGES): their link flags.
mc_libs = $(shell pkg-config --libs $(1) 2>/dev/null)
# $(call mc_link,PACKAGES,SYSTEM LIBS): the recipe that links $@ from its
# object and archive prerequisites.
mc_link = $(CC) $(SAN) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) \
          $(call mc_libs,$(1)) $(2) $(LDLIBS)

# Installs missing Debian packages once (scripts/deps.sh, as root).
DEPS_STAMP := build/.deps-ok
$(DEPS_STAMP): scripts/deps.sh
	@sh scripts/deps.sh
	@mkdir -p $(@D) && touch $@

GEN_C    := $(B)/gen/mychat.pb-c.c
GEN_H    := $(B)/gen/mychat.pb-c.h
LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/mychat.pb-c.o
LIBMC    := $(B)/libmychat.a

# The generated protobuf-c code must exist before anything includes it.
$(GEN_C) $(GEN_H) &: proto/mychat.proto | $(DEPS_STAMP)
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/mychat.proto

# Generated code is not ours to warn about.
$(B)/gen/mychat.pb-c.o: $(GEN_C)
	$(CC) $(CSTD) $(OPT) $(SAN) -I$(B)/gen $(PKG_CFLAGS) -c $< -o $@

$(B)/%.o: %.c $(GEN_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBMC): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The header dependencies of every object either build has made.
-include $(patsubst %.c,$(B)/%.d,$(wildcard */*.c */*/*.c))
