#!/usr/bin/env bats
# The failures a real server rarely produces, played by tests/misbehave/peer.py
# (a scripted server with the suite's CA-signed certificate that records what
# the client sent). Each case checks, for every tool in MB_TOOLS: the exit
# code, the message on stderr, that no credentials crossed the wire before
# TLS, and that the run ended within its deadline (tests/misbehave/lib.bash).

load helpers/common
load misbehave/lib

setup() {
	xu_require_tool xmpp-send
	MB_PASSWORD="mb-pw-$(_xu_rand 6)"
}

teardown() {
	xu_common_teardown
}

@test "misbehave: the peer itself: a correct session succeeds, and PLAIN credentials went only inside TLS" {
	mb_case --check plain_inside_tls ok
}

# For each tool: TLS was set up and the PLAIN token went inside it, so that
# the check of the clear-text record proves something.
plain_inside_tls() {
	grep -q tls-done "$MB_REC.events" || fail "$1: no TLS"
	grep -aqF -- "$(mb_plain_token)" "$MB_REC.tls" || fail "$1: the PLAIN token is not in the TLS record: the credential check would prove nothing"
}

@test "misbehave: before TLS only a stream header (no JID) and <starttls/> cross the wire; a trace file is private" {
	local tool
	for tool in $MB_TOOLS; do
		[ -x "$XU_BIN/$tool" ] || continue
		MB_CONNECTIONS=$(mb_tool_connections "$tool") mb_peer ok
		mapfile -t args < <(mb_tool_args "$tool")
		XMPP_PASSWORD=$MB_PASSWORD xu_run_tool "$tool" -C /dev/null -j "alice@$XU_DOMAIN" -r secret-resource \
			--host 127.0.0.1 --port "$MB_PORT" --tls-trust-file "$XU_CA" --timeout "$MB_TIMEOUT" \
			--trace "$BATS_TEST_TMPDIR/$tool.trace" "${args[@]}"
		mb_peer_wait
		assert_status 0
		assert_only_starttls_in_clear
		! grep -aq secret-resource "$MB_REC.plain" || fail "the resource was sent before TLS"
		[ "$(stat -c %a "$BATS_TEST_TMPDIR/$tool.trace")" = 600 ] ||
			fail "$tool: trace file mode $(stat -c %a "$BATS_TEST_TMPDIR/$tool.trace"), not 600"
		grep -q '^C: .*<auth' "$BATS_TEST_TMPDIR/$tool.trace" || fail "$tool: no <auth> in the trace: the check below would prove nothing"
		! grep -qF -- "$(mb_plain_token)" "$BATS_TEST_TMPDIR/$tool.trace" || fail "$tool: PLAIN token in the trace"
	done
}

# Stream errors: a condition that passes is 75 (retry later), a server that
# sends us elsewhere 69, any other 76 (README, the man pages' EXIT STATUS).
@test "misbehave: <system-shutdown/> stream error mid-session: 75" {
	mb_case stream-error:system-shutdown
}

@test "misbehave: <conflict/> stream error mid-session: 75" {
	mb_case stream-error:conflict
}

@test "misbehave: <see-other-host/> stream error mid-session: 69" {
	mb_case stream-error:see-other-host
}

# (not a condition a stanza can cause, such as invalid-namespace: xmpp-send
# takes those as the refusal of the message it sent: 65, tests/input-delivery.bats)
@test "misbehave: <undefined-condition/> stream error (one that does not pass) mid-session: 76" {
	mb_case stream-error:undefined-condition
}

@test "misbehave: connection cut right after <proceed/>: 76, quickly" {
	mb_case --quick cut-after-proceed
}

@test "misbehave: TLS handshake that stalls: 75 at the deadline (SIGALRM breaks the blocking handshake)" {
	mb_case --min 2900 tls-stall 3
	grep -q stalling "$MB_REC.events"
}

@test "misbehave: stream features without <bind/> after SASL: 76, no crash" {
	mb_case no-bind
}

@test "misbehave: SASL <failure><not-authorized/>: 77" {
	mb_case sasl-failure:not-authorized
}

@test "misbehave: SASL <failure><temporary-auth-failure/>: 75" {
	mb_case sasl-failure:temporary-auth-failure
}

@test "misbehave: SASL that stalls after <auth/> (SCRAM): 75 at the deadline" {
	# libstrophe 0.12.2 frees its SCRAM state only when the exchange completes,
	# so a run that ends during SASL leaks it (no secret inside; see
	# tests/valgrind.supp). LeakSanitizer cannot tell that allocation apart
	# (libstrophe has no frame pointers), so it is off for this one case;
	# the valgrind run still checks it with a suppression for exactly that.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mb_case --min 2900 sasl-stall 3
}

@test "misbehave: a 10 MB stanza from the server is survived" {
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		mb_case big-stanza:1048576 30 # 1 MB: memcheck is ~50 times slower
	else
		mb_case big-stanza:10485760 20
	fi
}

@test "misbehave: invalid XML from the server: 76 at once, not at the deadline" {
	mb_case --quick invalid-xml
}

@test "misbehave: a stanza with an undeclared prefix: 76 at once" {
	mb_case --quick undeclared-prefix
}

@test "misbehave: the server never answers the ping (ack request): 75 at the deadline" {
	mb_case --min 2900 no-ack 3
}

@test "misbehave: a server that trickles one byte per second: 75 at the deadline" {
	mb_case --min 2900 trickle 3
}
