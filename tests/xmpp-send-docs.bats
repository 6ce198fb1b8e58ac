#!/usr/bin/env bats
# xmpp-send: the man page and the completions cover every option.

load helpers/common

setup() {
	xu_require_tool xmpp-send
}

teardown() {
	xu_common_teardown
}

@test "docs: every long option of --help is in the man page and the three completions" {
	xsend --help
	assert_status 0
	local root opts o missing=""
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
	[ "$(wc -l <<<"$opts")" -ge 35 ] || fail "too few options found in --help"
	for o in $opts; do
		grep -q -- "Fl -${o#--}\b" "$root/man/xmpp-send.1" || missing="$missing man:$o"
		grep -q -- "$o\b" "$root/completions/bash/xmpp-send" || missing="$missing bash:$o"
		grep -q -- "$o\b" "$root/completions/zsh/_xmpp-send" || missing="$missing zsh:$o"
		grep -q -- "-l ${o#--}\b" "$root/completions/fish/xmpp-send.fish" || missing="$missing fish:$o"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
}

@test "docs: the man page renders without warnings and lists every exit status" {
	local root code
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	run groff -mandoc -ww -z "$root/man/xmpp-send.1"
	[ "$status" = 0 ] && [ -z "$output" ] || fail "groff: $output"
	for code in 0 64 65 68 69 74 75 76 77 78; do
		sed -n '/^\.Sh EXIT STATUS/,/^\.Sh EXAMPLES/p' "$root/man/xmpp-send.1" | grep -qx "\.It $code" ||
			fail "exit status $code is not in the man page"
	done
	bash -n "$root/completions/bash/xmpp-send" || fail "bash completion has a syntax error"
}
