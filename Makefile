# xmpputils — small composable XMPP command-line tools.
# make            build the tools
# make check      install missing Debian packages (as root), build, run the bats suite against a throwaway Prosody
# make check SANITIZE=1   the same with AddressSanitizer + UBSan
# make check XMPP_TEST_SERVERS=prosody,ejabberd   also the tool suites against ejabberd
# make check-interop      only the tool suites, against a throwaway ejabberd
# make demo       show xmpp-send delivering a message on a throwaway server
# make fuzz       build the libFuzzer harnesses (clang) into build-fuzz/bin
# make fuzz-run   run each harness for FUZZ_SECONDS (default 60) on its corpus
# make fuzz-regress  replay the seed corpus and regression inputs (any compiler)
# make bench      measure xmpp-send against go-sendxmpp, sendxmpp, xmppc (bench/run; BENCH_ARGS="--runs 20")
# make dist       xmpputils-VERSION.tar.gz (the tracked files; DIST_DIR=DIR puts it elsewhere)
# make deb        the Debian package, built from that tarball in DEB_DIR (default build-deb/)
# make bench-upload  HTTP upload of 1 KB and 50 MB, xmpp-send --file against go-sendxmpp -h (bench/upload)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=
# The one place the version is written; debian/changelog must agree (tests/package.bats).
VERSION := 0.1.0

PKGS    := libstrophe openssl libxml-2.0 jansson libcurl libmicrohttpd libidn libomemo-c sqlite3 libgsasl
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation
XCFLAGS := -std=c11 -D_GNU_SOURCE -DXU_VERSION='"$(VERSION)"' $(WARN) -Ilib \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
XLIBS   := -Wl,--as-needed $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lresolv

# Sanitizer builds go to their own directory so they never mix with normal objects.
ifeq ($(SANITIZE),1)
BUILD   := build-san
XCFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
XLDFLAGS += -fsanitize=address,undefined
else
BUILD   := build
endif

# lib/ has one folder per layer (docs/ARCHITECTURE.md); every file is
# included as "layer/name.h" from -Ilib. The archive keeps members by their
# base name, so two files of one name in different folders would silently
# replace each other: the build refuses that.
LIB_SRC := $(sort $(wildcard lib/*/*.c))
LIB_OBJ := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
LIB_HDR := $(wildcard lib/*/*.h)
LIB_DUPS := $(shell printf '%s\n' $(notdir $(LIB_SRC)) | sort | uniq -d)
ifneq ($(LIB_DUPS),)
$(error two files in lib/ share a name ($(LIB_DUPS)): the archive would keep one of them)
endif
TOOLS   := $(patsubst cmd/%.c,%,$(sort $(wildcard cmd/*.c)))
BINS    := $(TOOLS:%=$(BUILD)/bin/%)

all: $(BINS)

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR) | deps-check
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libxmpputils.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/cmd/%.o: cmd/%.c $(LIB_HDR) | deps-check
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/%: $(BUILD)/cmd/%.o $(BUILD)/libxmpputils.a
	@mkdir -p $(@D)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(XLIBS)

# A clear message instead of a wall of missing-header errors.
deps-check:
	@pkg-config --exists $(PKGS) || { echo "missing build dependencies: run 'make deps' (as root on Debian)" >&2; exit 1; }

deps:
	sh tests/install-deps

check:
	sh tests/install-deps
	case "$(XMPP_TEST_SERVERS)" in *ejabberd*) sh tests/install-ejabberd ;; esac
	$(MAKE) all
	XU_BIN=$(CURDIR)/$(BUILD)/bin sh tests/run

# The end-to-end tool suites against a throwaway ejabberd (installed if
# missing, never left running as a system service).
check-interop:
	sh tests/install-deps
	sh tests/install-ejabberd
	$(MAKE) all
	XMPP_TEST_SERVERS=ejabberd XU_BIN=$(CURDIR)/$(BUILD)/bin sh tests/run

demo:
	sh tests/install-deps
	$(MAKE) all
	XU_BIN=$(CURDIR)/$(BUILD)/bin sh tests/demo

bench: all
	bash bench/run --xmpp-send $(CURDIR)/$(BUILD)/bin/xmpp-send $(BENCH_ARGS)

bench-upload: all
	bash bench/upload --xmpp-send $(CURDIR)/$(BUILD)/bin/xmpp-send $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	# the installed pages name the release in their footer (.Os), from VERSION
	for f in man/*.1 man/*.5; do [ -f "$$f" ] || continue; \
	  d=$(DESTDIR)$(MANDIR)/man$${f##*.}/$${f#man/}; \
	  sed 's/^\.Os$$/.Os xmpputils $(VERSION)/' "$$f" >"$$d" && chmod 644 "$$d" || exit 1; \
	done
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	for t in $(TOOLS); do \
	  [ -f completions/bash/$$t ] && install -m 644 completions/bash/$$t $(DESTDIR)$(BASHCOMPDIR)/$$t; \
	  [ -f completions/zsh/_$$t ] && install -m 644 completions/zsh/_$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t; \
	  [ -f completions/fish/$$t.fish ] && install -m 644 completions/fish/$$t.fish $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
	done; true

uninstall:
	for t in $(TOOLS); do \
	  rm -f $(DESTDIR)$(BINDIR)/$$t $(DESTDIR)$(MANDIR)/man1/$$t.1 \
	        $(DESTDIR)$(BASHCOMPDIR)/$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t $(DESTDIR)$(FISHCOMPDIR)/$$t.fish; \
	done
	for f in man/*.5; do rm -f $(DESTDIR)$(MANDIR)/man5/$${f#man/}; done

# ---- fuzzing (tests/fuzz/README.md) ----
# The library is built a third time with clang's fuzzer instrumentation and
# ASan+UBSan; each tests/fuzz/fuzz_NAME.c becomes build-fuzz/bin/fuzz_NAME.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -Wno-unknown-warning-option -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_HDR   := $(wildcard tests/fuzz/*.h)
FUZZ_LIB_OBJ := $(LIB_SRC:lib/%.c=build-fuzz/lib/%.o)
FUZZ_SECONDS ?= 60

fuzz: $(FUZZ_NAMES:%=build-fuzz/bin/%)

build-fuzz/lib/%.o: lib/%.c $(LIB_HDR) | deps-check fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(XCFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build-fuzz/bin/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDR) $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(XCFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(XLIBS)

# clang and its libFuzzer runtime (installed as root when missing)
fuzz-deps:
	@sh tests/install-deps fuzz

fuzz-run: fuzz
	sh tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_NAMES)

# The same harnesses as plain programs (tests/fuzz/standalone.c replays
# files) in the current build ($(BUILD): with SANITIZE=1 under ASan+UBSan).
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/standalone.c $(FUZZ_HDR) $(BUILD)/libxmpputils.a
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Wno-missing-prototypes -Itests/fuzz $(CFLAGS) $(XLDFLAGS) $(LDFLAGS) -o $@ \
		$< tests/fuzz/standalone.c $(BUILD)/libxmpputils.a $(XLIBS)

fuzz-drivers: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

fuzz-regress: fuzz-drivers
	@for h in $(FUZZ_NAMES); do \
	  $(BUILD)/fuzz/$$h tests/fuzz/corpus/$$h $$(ls -d tests/fuzz/regressions/$$h 2>/dev/null) || exit 1; \
	done

# ---- release (tests/package.bats) ----
# make dist: the tracked files (git ls-files; in an unpacked tarball, the
# MANIFEST it carries) and nothing else, as xmpputils-VERSION/ in a tarball
# whose bytes depend only on the files (sorted, owner 0, mtime of the last
# commit or SOURCE_DATE_EPOCH).
DIST_NAME := xmpputils-$(VERSION)
DIST_DIR  ?= .
DEB_DIR   ?= build-deb

version:
	@echo $(VERSION)

dist:
	@set -e; stage=$$(mktemp -d "$${TMPDIR:-/tmp}/xu-dist.XXXXXX"); trap 'rm -rf "$$stage"' EXIT; \
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ]; then \
	  git ls-files; \
	elif [ -f MANIFEST ]; then \
	  cat MANIFEST; \
	fi | while IFS= read -r f; do \
	  case $$f in MANIFEST | .gitignore) continue ;; esac; \
	  if [ -e "$$f" ]; then printf '%s\n' "$$f"; fi; \
	done >"$$stage/list"; \
	[ -s "$$stage/list" ] || { echo "make dist: no file list (neither a git checkout nor an unpacked tarball with its MANIFEST)" >&2; exit 1; }; \
	if [ -f MANIFEST ] && [ "$$(git rev-parse --show-toplevel 2>/dev/null)" != "$$(pwd -P)" ]; then \
	  epoch=$${SOURCE_DATE_EPOCH:-$$(stat -c %Y MANIFEST)}; \
	else epoch=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)}; fi; \
	mkdir "$$stage/$(DIST_NAME)"; \
	tar -cf - -T "$$stage/list" | tar -xf - -C "$$stage/$(DIST_NAME)"; \
	cp "$$stage/list" "$$stage/$(DIST_NAME)/MANIFEST"; echo MANIFEST >>"$$stage/$(DIST_NAME)/MANIFEST"; \
	mkdir -p $(DIST_DIR); \
	tar -C "$$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$$epoch \
	    -cf - $(DIST_NAME) | gzip -n9 >$(DIST_DIR)/$(DIST_NAME).tar.gz; \
	echo "$(DIST_DIR)/$(DIST_NAME).tar.gz"

# make deb: the package built the way a Debian maintainer would, from the
# release tarball unpacked in $(DEB_DIR) (so the tarball is proven complete
# and nothing lands beside the source tree): source and binary packages, so
# that lintian can check both; the .dsc, .deb and .changes end up in
# $(DEB_DIR), which is emptied first. Needs debhelper and the Build-Depends
# of debian/control. This make's variables (SANITIZE=1, -j) do not reach the
# package build.
deb:
	@set -e; rm -rf $(DEB_DIR); mkdir -p $(DEB_DIR); \
	$(MAKE) -s dist DIST_DIR=$(abspath $(DEB_DIR)) >/dev/null; \
	cd $(DEB_DIR) && tar -xzf $(DIST_NAME).tar.gz && cd $(DIST_NAME) && \
	unset MAKEFLAGS MFLAGS MAKELEVEL SANITIZE && dpkg-buildpackage -us -uc; \
	ls $(abspath $(DEB_DIR))/*.deb

clean:
	rm -rf build build-san build-fuzz build-deb

.PHONY: all deps deps-check check check-interop demo bench bench-upload install uninstall clean fuzz fuzz-run fuzz-drivers fuzz-regress fuzz-deps version dist deb
.SECONDARY:
