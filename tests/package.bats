#!/usr/bin/env bats
# The release: `make dist` (the tarball), `make deb` (the Debian package built
# from that tarball with dpkg-buildpackage), lintian, and the INSTALLED tools
# run against the suite's Prosody. The package is unpacked with `dpkg -x` into
# a throwaway root instead of `dpkg -i`: the test then needs neither the
# machine's dpkg database and its lock (other suites may share the machine)
# nor a removal step that a failed test could skip, and an installed copy
# from elsewhere can never be the one tested. The package is built once per
# run (setup_file: about 10 s on two CPUs).

load helpers/common

setup_file() {
	local root
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd -P)
	export PKG_SRC=$root
	export PKG_DIR=$BATS_FILE_TMPDIR/deb PKG_ROOT=$BATS_FILE_TMPDIR/root
	export PKG_LOG=$BATS_FILE_TMPDIR/make-deb.log
	PKG_VERSION=$(env -u SANITIZE -u MAKEFLAGS -u MAKELEVEL make -s -C "$root" version)
	export PKG_VERSION
	# the make running this suite (make check SANITIZE=1, -j) must not leak in:
	# make exports its command-line variables (SANITIZE) to the environment
	# bounded like every child of the suite: a hung build fails instead of hanging the run
	if env -u SANITIZE -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout -k 10 600 make -C "$root" deb DEB_DIR="$PKG_DIR" >"$PKG_LOG" 2>&1; then
		mkdir -p "$PKG_ROOT"
		dpkg -x "$PKG_DIR/xmpputils_${PKG_VERSION}_$(dpkg --print-architecture).deb" "$PKG_ROOT" >>"$PKG_LOG" 2>&1 ||
			echo "dpkg -x failed" >>"$PKG_LOG"
	else
		echo "make deb failed" >>"$PKG_LOG"
	fi
}

setup() {
	# the "source:" tests read the source tree only, and say what is wrong
	# even when that is why the package did not build
	if [[ $BATS_TEST_DESCRIPTION != source:* ]] &&
		grep -q -e '^make deb failed' -e '^dpkg -x failed' "$PKG_LOG"; then
		sed 's/^/# /' "$PKG_LOG" | tail -n 40
		fail "make deb did not produce an installable package (its log is above)"
	fi
	DEB=$PKG_DIR/xmpputils_${PKG_VERSION}_$(dpkg --print-architecture).deb
	TOOLS=()
	local f
	for f in "$PKG_SRC"/cmd/*.c; do
		f=${f##*/}
		TOOLS+=("${f%.c}")
	done
}

teardown() {
	xu_common_teardown
}

@test "source: debian/changelog's version is the Makefile's VERSION and each built tool's --version" {
	local v t
	[[ $PKG_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "make version printed '$PKG_VERSION'"
	v=$(dpkg-parsechangelog -l "$PKG_SRC/debian/changelog" -SVersion)
	[ "$v" = "$PKG_VERSION" ] || fail "debian/changelog has $v, the Makefile $PKG_VERSION"
	for t in "${TOOLS[@]}"; do
		run "$XU_BIN/$t" --version
		assert_success
		assert_output "$t (xmpputils) $PKG_VERSION"
	done
}

@test "package: one version: the tarball, the package and every installed tool's --version are the Makefile's" {
	local v t
	[ -f "$PKG_DIR/xmpputils-$PKG_VERSION.tar.gz" ] || fail "no xmpputils-$PKG_VERSION.tar.gz"
	v=$(dpkg-deb -f "$DEB" Version)
	[ "$v" = "$PKG_VERSION" ] || fail "the package has version $v"
	for t in "${TOOLS[@]}"; do
		run "$PKG_ROOT/usr/bin/$t" --version
		assert_success
		assert_output "$t (xmpputils) $PKG_VERSION"
	done
}

@test "dist: the tarball is xmpputils-VERSION/ with exactly the tracked files (no build output, no .git) and is reproducible" {
	local tgz=$PKG_DIR/xmpputils-$PKG_VERSION.tar.gz want got
	got=$(tar -tzf "$tgz" | grep -v '/$' | sort)
	if [ "$(git -C "$PKG_SRC" rev-parse --show-toplevel 2>/dev/null)" = "$PKG_SRC" ]; then
		want=$(git -C "$PKG_SRC" ls-files | grep -vx '.gitignore' | while IFS= read -r f; do
			[ -e "$PKG_SRC/$f" ] && echo "$f"
		done)
	else
		want=$(grep -vx MANIFEST "$PKG_SRC/MANIFEST")
	fi
	want=$(printf '%s\nMANIFEST\n' "$want" | sed "s|^|xmpputils-$PKG_VERSION/|" | sort)
	diff <(echo "$want") <(echo "$got") || fail "the tarball's files differ from the tracked files (- missing, + extra)"
	! grep -Eq "^xmpputils-$PKG_VERSION/(build[^/]*|\.git)(/|$)" <<<"$got" || fail "build output or .git in the tarball"
	grep -qx "xmpputils-$PKG_VERSION/debian/changelog" <<<"$got" || fail "debian/ is not in the tarball"
	# the same files give the same bytes
	env -u SANITIZE -u MAKEFLAGS -u MAKELEVEL make -s -C "$PKG_SRC" dist DIST_DIR="$BATS_TEST_TMPDIR" >/dev/null
	cmp "$tgz" "$BATS_TEST_TMPDIR/xmpputils-$PKG_VERSION.tar.gz" || fail "make dist is not reproducible"
}

@test "deb: source and binary packages built from the tarball by dpkg-buildpackage; lintian finds no error and no warning" {
	grep -q 'dpkg-buildpackage: info: full upload' "$PKG_LOG" || fail "dpkg-buildpackage did not finish"
	# debian/rules' build-time check: the built tools report the changelog's version
	grep -qx "xmpp-send (xmpputils) $PKG_VERSION" "$PKG_LOG" || fail "dh_auto_test's version check did not run"
	run timeout -k 10 300 lintian --fail-on error,warning --display-info \
		"$PKG_DIR/xmpputils_${PKG_VERSION}_$(dpkg --print-architecture).changes"
	printf '# lintian: %s\n' "$output"
	[ "$status" = 0 ] || fail "lintian exit $status"
	! grep -Eq '^[EW]: ' <<<"$output" || fail "lintian reports errors or warnings"
}

@test "deb: Depends names the package of every shared library the tools link" {
	local depends so t pkgs missing=""
	depends=$(dpkg-deb -f "$DEB" Depends)
	printf '# Depends: %s\n' "$depends"
	[[ $depends != *'${'* ]] || fail "an unsubstituted variable in Depends"
	for t in "${TOOLS[@]}"; do
		for so in $(objdump -p "$PKG_ROOT/usr/bin/$t" | awk '$1 == "NEEDED" { print $2 }'); do
			pkgs=$(dpkg -S "*/$so" 2>/dev/null | cut -d: -f1 | tr ', ' '\n\n' | sort -u)
			[ -n "$pkgs" ] || fail "$t: no package ships $so"
			grep -Eq "(^|, )($(tr '\n' '|' <<<"$pkgs" | sed 's/|$//'))( |,|$)" <<<"$depends" ||
				missing="$missing $t:$so"
		done
	done
	grep -Eq '(^|, )libstrophe0( |,|$)' <<<"$depends" || missing="$missing libstrophe0"
	[ -z "$missing" ] || fail "Depends lacks the package of:$missing"
}

@test "deb: the tools, man pages (sections 1 and 5), completions and copyright are where Debian looks" {
	local t f missing=""
	for t in "${TOOLS[@]}"; do
		for f in usr/bin/$t usr/share/man/man1/$t.1.gz usr/share/bash-completion/completions/$t \
			usr/share/zsh/vendor-completions/_$t usr/share/fish/vendor_completions.d/$t.fish; do
			[ -f "$PKG_ROOT/$f" ] || missing="$missing $f"
		done
		[ -x "$PKG_ROOT/usr/bin/$t" ] || missing="$missing $t(not executable)"
	done
	for f in usr/share/man/man5/xmpputils.5.gz usr/share/doc/xmpputils/copyright usr/share/doc/xmpputils/changelog.gz; do
		[ -f "$PKG_ROOT/$f" ] || missing="$missing $f"
	done
	[ -z "$missing" ] || fail "not in the package:$missing"
	grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
		"$PKG_ROOT/usr/share/doc/xmpputils/copyright" || fail "copyright is not machine-readable"
	# nothing outside /usr (no /usr/local, no /etc)
	run bash -c "cd '$PKG_ROOT' && find . -mindepth 1 -maxdepth 1 ! -name usr"
	assert_output ""
	[ ! -e "$PKG_ROOT/usr/local" ] || fail "the package installs into /usr/local"
}

@test "installed: the packaged xmpp-send delivers a message; the receiver gets it" {
	start_receiver bob bob --count 1
	XU_BIN=$PKG_ROOT/usr/bin xsend -a alice -m "from the installed package" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob 'length == 1 and .[0].body == "from the installed package"'
	assert_recv bob '.[0].from | startswith("alice@'"$XU_DOMAIN"'/")'
}

@test "installed: man renders xmpp-send(1) and xmpputils(5) from the package's man directory" {
	run timeout 60 env MANPATH="$PKG_ROOT/usr/share/man" MANWIDTH=80 LC_ALL=C.UTF-8 man xmpp-send
	assert_success
	assert_line --regexp '^XMPP-SEND\(1\)'
	assert_line --regexp '^ +xmpp-send .* send XMPP messages'
	assert_line --regexp '^ +-l, --lines'
	assert_line --regexp '^EXIT STATUS'
	# the footer names the release (make install writes VERSION into .Os)
	assert_line --regexp "^xmpputils ${PKG_VERSION//./\\.} +[A-Z][a-z]+ [0-9]+, [0-9]{4}"
	run timeout 60 env MANPATH="$PKG_ROOT/usr/share/man" MANWIDTH=80 LC_ALL=C.UTF-8 man 5 xmpputils
	assert_success
	assert_line --regexp '^XMPPUTILS\(5\)'
	assert_line --regexp 'configuration file'
}

@test "installed: bash completion loads the package's file the standard way and offers --lines" {
	[ -f /usr/share/bash-completion/bash_completion ] || fail "bash-completion is not installed (tests/install-deps)"
	# bash-completion looks in each XDG_DATA_DIRS entry's bash-completion/completions
	run timeout 60 env -i PATH="$PATH" HOME="$BATS_TEST_TMPDIR" BASH_COMPLETION_USER_DIR=/nonexistent \
		XDG_DATA_DIRS="$PKG_ROOT/usr/share" bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion || exit 3
		__load_completion xmpp-send || { echo "no completion for xmpp-send found"; exit 4; }
		fn=$(complete -p xmpp-send | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		COMP_LINE="xmpp-send --li"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(xmpp-send --li); COMP_CWORD=1
		"$fn" xmpp-send --li xmpp-send
		printf "%s\n" "${COMPREPLY[@]}"'
	assert_success
	assert_output "--lines"
}

@test "install: make install DESTDIR=… PREFIX=… stages tools, man 1 and 5 and completions; make uninstall removes them" {
	local tree=$PKG_DIR/xmpputils-$PKG_VERSION stage=$BATS_TEST_TMPDIR/stage p=/opt/xu t f missing=""
	run timeout 300 env -u SANITIZE -u MAKEFLAGS -u MAKELEVEL make -C "$tree" install DESTDIR="$stage" PREFIX="$p"
	assert_success
	for t in "${TOOLS[@]}"; do
		for f in bin/$t share/man/man1/$t.1 share/bash-completion/completions/$t \
			share/zsh/site-functions/_$t share/fish/vendor_completions.d/$t.fish; do
			[ -f "$stage$p/$f" ] || missing="$missing $p/$f"
		done
		[ -x "$stage$p/bin/$t" ] || missing="$missing $t(not executable)"
	done
	[ -f "$stage$p/share/man/man5/xmpputils.5" ] || missing="$missing $p/share/man/man5/xmpputils.5"
	[ -z "$missing" ] || fail "not installed:$missing"
	run bash -c "cd '$stage' && find . -type f | grep -v '^\./opt/xu/'"
	assert_output ""
	run "$stage$p/bin/xmpp-send" --version
	assert_output "xmpp-send (xmpputils) $PKG_VERSION"
	run timeout 60 env -u SANITIZE -u MAKEFLAGS -u MAKELEVEL make -C "$tree" uninstall DESTDIR="$stage" PREFIX="$p"
	assert_success
	run find "$stage" -type f
	assert_output ""
}

@test "source: Build-Depends names every library package tests/install-deps installs to build" {
	local deps p missing=""
	# the Build-Depends field, folded onto one line
	deps=$(sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' "$PKG_SRC/debian/control" | grep -v '^#' | tr '\n' ' ')
	for p in $(sed -n 's/^BUILD_DEPS="\(.*\)"/\1/p' "$PKG_SRC/tests/install-deps"); do
		case $p in gcc | make) continue ;; esac # build-essential
		grep -Eq "(:|,|\|) *$p( |,|\||\(|$)" <<<"$deps" || missing="$missing $p"
	done
	[ -z "$missing" ] || fail "in tests/install-deps' BUILD_DEPS but not in debian/control's Build-Depends:$missing"
}
