# mutants/: the mutation harness of the conformance suite (issue 11). Each
# mutants/NAME.mut is a small implementer bug, each mutants/variants/NAME.mut
# an allowed variant (format: conformance/README.md, "Mutants").
#
#   $(B)/mutants/NAME/mychat-server   one mutant server: only the files its
#                                     edits touch are copied, edited and
#                                     compiled; the rest is the normal build
#   make mutants-build                every mutant and variant (make test)
#   make mutants                      the suite against each, the score

MUT_RUN   := python3 mutants/mutants.py
MUT_NAMES := $(basename $(notdir $(wildcard mutants/*.mut mutants/variants/*.mut)))
MUT_BINS  := $(MUT_NAMES:%=$(B)/mutants/%/mychat-server)
vpath %.mut mutants mutants/variants

# Mutant servers are compiled without optimisation: the harness builds a
# hundred and more of them in `make test`, and none is timed.
MUT_CFLAGS = $(filter-out $(OPT),$(CFLAGS_ALL)) -O0

# An edit may land in any file linked into the server, so each mutant
# depends on all of them.
$(B)/mutants/%/mychat-server: %.mut mutants/mutants.py $(SERVER_OBJ) \
    $(B)/libmcref.a $(LIBMC) $(wildcard lib/*.c lib/*.h reference/*.c reference/*.h)
	@B=$(B) CC="$(CC)" CFLAGS="$(MUT_CFLAGS)" SAN="$(SAN)" \
	  LDLIBS="$(call mc_libs,$(SERVER_PKGS)) $(SERVER_SYSLIBS) $(LDLIBS)" SERVER_OBJ="$(SERVER_OBJ)" $(MUT_RUN) build $*

.PHONY: mutants mutants-build
mutants-build: $(MUT_BINS)

# tests/integration/conform.sh runs the mutants that have a killed-by: line.
test: mutants-build

mutants: mutants-build $(B)/mychat-server $(B)/mychat-conform
	@B=$(B) $(MUT_RUN) run
