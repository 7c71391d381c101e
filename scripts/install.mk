# scripts/install.mk: `make man` and `make install` (included by the
# Makefile). Installs the programs, their man pages (generated from each
# program's --help and --version by help2man, so they cannot drift from the
# program), bash completion, the core library with mychat.pc, and its
# public headers, which need no generated protobuf-c header.
#
#   make install PREFIX=/usr DESTDIR=/tmp/stage

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
COMPDIR    ?= $(PREFIX)/share/bash-completion/completions
PCDIR      ?= $(LIBDIR)/pkgconfig

USER_PROGRAMS := mychat-server mychat mychat-sim mychat-conform mychat-pcap
MAN_PAGES     := $(USER_PROGRAMS:%=$(B)/man/%.1)
# The headers a program outside the tree needs. Not installed: *_int.h and
# mc_wire.h, the core's own, and *_pb.h, the protobuf-c layer under the API
# (its generated header lives in build/gen only).
PUBLIC_HEADERS = $(filter-out %_int.h %_pb.h lib/mc_wire.h,$(wildcard lib/*.h))

.PHONY: man install uninstall
man: $(MAN_PAGES)

$(B)/man/%.1: $(B)/% scripts/install.mk
	@mkdir -p $(@D)
	help2man --no-info --no-discard-stderr --section=1 --source="MyChat Lab" \
	  --name="$$(sed -n 's/^$*: //p' scripts/man-names.txt)" \
	  --output=$@ ./$<

$(B)/mychat.pc: scripts/install.mk
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' \
	  'includedir=$(INCLUDEDIR)' '' 'Name: mychat' \
	  'Description: MyChat protocol core (sans-I/O): codec, reliability, client and server' \
	  'Version: 1.0' 'Requires: $(LIBMC_PKGS)' \
	  'Libs: -L$${libdir} -lmychat' 'Cflags: -I$${includedir}/mychat' > $@

install: all man $(B)/mychat.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/mychat $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPDIR)
	install -m 755 $(USER_PROGRAMS:%=$(B)/%) $(DESTDIR)$(BINDIR)
	install -m 644 $(LIBMC) $(DESTDIR)$(LIBDIR)
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/mychat
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(B)/mychat.pc $(DESTDIR)$(PCDIR)
	for p in $(USER_PROGRAMS); do \
	  install -m 644 scripts/mychat.bash-completion $(DESTDIR)$(COMPDIR)/$$p || exit 1; \
	done

uninstall:
	rm -f $(USER_PROGRAMS:%=$(DESTDIR)$(BINDIR)/%) \
	  $(USER_PROGRAMS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	  $(USER_PROGRAMS:%=$(DESTDIR)$(COMPDIR)/%) \
	  $(DESTDIR)$(LIBDIR)/libmychat.a $(DESTDIR)$(PCDIR)/mychat.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/mychat
