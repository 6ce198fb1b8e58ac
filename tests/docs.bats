#!/usr/bin/env bats
# Documentation of every tool (each cmd/*.c): the man page and the bash, zsh
# and fish completions cover every option its --help lists, every exit status
# of --help is in the man page, and all man pages lint clean. Driven by
# --help, so options and tools added later are checked without editing this.

load helpers/common
load helpers/docs

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	TOOLS=()
	local f
	for f in "$ROOT"/cmd/*.c; do
		f=${f##*/}
		TOOLS+=("${f%.c}")
		xu_require_tool "${f%.c}"
	done
	[ "${#TOOLS[@]}" -ge 4 ] || fail "expected at least four tools in cmd/, found ${TOOLS[*]}"
}

teardown() {
	xu_common_teardown
}

@test "docs: every option of each tool's --help is in its man page and its bash, zsh and fish completions" {
	local t opts n offered o missing="" long short
	for t in "${TOOLS[@]}"; do
		opts=$(docs_help_options "$XU_BIN/$t")
		n=$(grep -c . <<<"$opts")
		# the common connection options alone are 20: fewer means --help was not parsed
		[ "$n" -ge 20 ] || fail "$t: only $n options found in --help"
		missing="$missing$(docs_missing "$t" "$ROOT" "$opts" | sed "s/^/ $t:/" | tr -d '\n')"
		# bash: what the completion really offers for "-<TAB>"
		offered=$(docs_bash_offers "$t" "$ROOT") || fail "$t: the bash completion does not load"
		while read -r short long; do
			for o in $long $short; do
				[ "$o" = - ] && continue
				grep -qxF -- "$o" <<<"$offered" || missing="$missing $t:bash-offers:$o"
			done
		done <<<"$opts"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
}

@test "docs: each tool's man page lists every exit status its --help gives" {
	local t code missing=""
	for t in "${TOOLS[@]}"; do
		run "$XU_BIN/$t" --help
		assert_success
		for code in $(sed -n '/^Exit status/,$p' <<<"$output" | sed -nE 's/^ +([0-9]+)  .*/\1/p' | sort -un); do
			sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$ROOT/man/$t.1" | grep -Eq "^\.It (Sy )?$code( |$)" ||
				missing="$missing $t:$code"
		done
	done
	[ -z "$missing" ] || fail "exit status not in the man page's EXIT STATUS:$missing"
}

@test "docs: every man page lints clean with mandoc -Tlint and renders with groff without warnings" {
	local f out bad="" ref
	for f in "$ROOT"/man/*.[1-8]; do
		# "referenced manual not found" depends on what this machine has
		# installed (our own pages are not): the cross-references to our own
		# pages are checked below instead.
		out=$(mandoc -Tlint -W style "$f" 2>&1 | grep -v -e 'referenced manual not found' -e 'mandoc.db' || true)
		[ -z "$out" ] || bad="$bad"$'\n'"$out"
		out=$(groff -mandoc -ww -z "$f" 2>&1)
		[ -z "$out" ] || bad="$bad"$'\n'"groff $f: $out"
		for ref in $(sed -nE 's/^\.Xr (xmpp[a-z-]*) ([1-8]).*/\1.\2/p' "$f"); do
			[ -f "$ROOT/man/$ref" ] || bad="$bad"$'\n'"$f: .Xr to man/$ref, which does not exist"
		done
	done
	[ -z "$bad" ] || fail "man pages:$bad"
}

@test "docs: each tool's bash completion is valid bash and each fish completion names only its tool" {
	local t
	for t in "${TOOLS[@]}"; do
		bash -n "$ROOT/completions/bash/$t" || fail "completions/bash/$t: syntax error"
		head -1 "$ROOT/completions/zsh/_$t" | grep -qx "#compdef $t" || fail "completions/zsh/_$t: first line is not '#compdef $t'"
		! grep -E '^complete ' "$ROOT/completions/fish/$t.fish" | grep -vq -- "-c $t " ||
			fail "completions/fish/$t.fish: a complete line for another command"
	done
}
