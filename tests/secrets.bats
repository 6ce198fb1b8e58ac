#!/usr/bin/env bats
# Where secrets and transcripts could leak or be lost (issue 11.8-11.10): the
# security warnings that --quiet must not hide, a --passwordeval command that
# hangs or talks too much, and the trace file's mode, replacement and write
# errors. Delivery is checked on the receiving side; processes by their pids.

load helpers/common

setup() {
	xu_require_tool xmpp-send
}

teardown() {
	xu_common_teardown
}

# gone PID: the process no longer exists (a zombie not yet reaped by init
# counts as gone); waits up to 3 s for it.
gone() {
	local i st
	for i in $(seq 1 60); do
		st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
		[ "$st" = Z ] && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- 11.8 -q and the warnings

@test "-q does not hide the --tls-insecure warning" {
	start_receiver bob bob --count 1
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -C "$(noca_config)" -a alice -q --tls-insecure -m "quiet but insecure" "bob@$XU_DOMAIN"
	assert_status 0
	assert_stderr_matches '^xmpp-send: WARNING: --tls-insecure: the server certificate is NOT verified'
	wait_receiver bob
	assert_recv bob '.[0].body == "quiet but insecure"'
}

@test "-q does not hide the --tls off warning (the server then refuses: 76)" {
	xsend -a alice -q --tls off -m hi "bob@$XU_DOMAIN"
	assert_status 76
	assert_stderr_matches '^xmpp-send: WARNING: --tls off: the password and all messages cross the network in clear'
	# and -q still hides an ordinary warning: the replaced trace is not mentioned
	echo old >"$BATS_TEST_TMPDIR/t"
	xsend -a alice -q --trace "$BATS_TEST_TMPDIR/t" -m "quiet" "bob@$XU_DOMAIN"
	assert_status 0
	[ -z "$stderr" ] || fail "-q printed: $stderr"
}

# ---------------------------------------------------------------- 11.9 --passwordeval

# evalcmd DIR: a passwordeval command that starts a child, records both pids
# and hangs (the child too).
evalcmd() {
	printf 'sleep 1000 & echo $! >%s/child; echo $$ >%s/shell; sleep 1001' "$1" "$1"
}

@test "--passwordeval that hangs: killed with its children at its deadline, 75, the message says so" {
	local tool d
	for tool in xmpp-send xmpp-bind; do
		d=$BATS_TEST_TMPDIR/$tool
		mkdir -p "$d"
		local -a job=(-m hi "bob@$XU_DOMAIN")
		[ "$tool" = xmpp-bind ] && job=(--query "<iq type='get' to='$XU_DOMAIN'><ping xmlns='urn:xmpp:ping'/></iq>")
		xu_run_tool "$tool" -C "$(nopw_config)" -a alice --timeout 2 --passwordeval "$(evalcmd "$d")" "${job[@]}"
		assert_status 75
		assert_stderr_matches "passwordeval command did not finish within [0-9.]+ s: it was killed"
		[ "$elapsed_ms" -lt 8000 ] || fail "$tool took $elapsed_ms ms with --timeout 2"
		[ -s "$d/shell" ] && [ -s "$d/child" ] || fail "$tool: the command did not run"
		gone "$(cat "$d/shell")" || fail "$tool: the passwordeval shell is still running"
		gone "$(cat "$d/child")" || fail "$tool: the passwordeval command's child is still running"
	done
}

@test "--passwordeval that hangs with -l (password fetched once, before the session): same" {
	local d=$BATS_TEST_TMPDIR/lines
	mkdir -p "$d"
	xsend -C "$(nopw_config)" -a alice --timeout 2 -l --passwordeval "$(evalcmd "$d")" "bob@$XU_DOMAIN" <<<"line"
	assert_status 75
	assert_stderr_matches "passwordeval command did not finish within 2 s"
	gone "$(cat "$d/shell")" || fail "the passwordeval shell is still running"
	gone "$(cat "$d/child")" || fail "the passwordeval command's child is still running"
}

@test "--passwordeval printing the password and then 200 KB: the first line is used, no SIGPIPE" {
	start_receiver bob bob --count 1
	printf '%s\n' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	xsend -C "$(nopw_config)" -a alice \
		--passwordeval "cat '$BATS_TEST_TMPDIR/pw'; head -c 200000 /dev/zero | tr '\\0' x" \
		-m "chatty eval" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "chatty eval"'
}

# ---------------------------------------------------------------- 11.10 trace file

@test "trace file: an existing file others can read is made 0600 and its replacement is said" {
	local t=$BATS_TEST_TMPDIR/trace
	echo "OLD-CONTENT" >"$t"
	chmod 644 "$t"
	xsend -a alice --trace "$t" -m "traced" "bob@$XU_DOMAIN"
	assert_status 0
	[ "$(stat -c %a "$t")" = 600 ] || fail "trace file mode $(stat -c %a "$t"), not 600"
	! grep -q OLD-CONTENT "$t" || fail "the old content is still there"
	grep -q '^C: .*traced' "$t" || fail "the message is not in the trace"
	assert_stderr_matches "trace file $t existed: its 12 bytes are replaced"
	# a new file: 0600, nothing said
	rm -f "$t"
	xsend -a alice --trace "$t" -m "traced again" "bob@$XU_DOMAIN"
	assert_status 0
	[ "$(stat -c %a "$t")" = 600 ] || fail "new trace file mode $(stat -c %a "$t")"
	[ -z "$stderr" ] || fail "stderr: $stderr"
}

@test "trace file: the mode is 0600 while the session runs, before the first line is read by anyone" {
	xu_require_tool xmpp-listen
	local t=$BATS_TEST_TMPDIR/trace i
	echo "OLD" >"$t"
	chmod 666 "$t"
	xu_run_tool xmpp-listen -a alice --trace "$t" --timeout 1 --count 1 &
	local pid=$!
	for i in $(seq 1 100); do
		grep -q '^C: ' "$t" 2>/dev/null && break
		sleep 0.05
	done
	local mode
	mode=$(stat -c %a "$t")
	wait "$pid" || true
	grep -q '^C: ' "$t" || fail "nothing was traced"
	[ "$mode" = 600 ] || fail "mode $mode while the transcript was being written"
}

@test "trace file: a write error (/dev/full) is said once on stderr; the message still goes" {
	[ -w /dev/full ] || skip "no /dev/full"
	start_receiver bob bob --count 1
	xsend -a alice --trace /dev/full -m "despite the trace" "bob@$XU_DOMAIN"
	assert_status 0
	[ "$(grep -c 'cannot write trace file /dev/full' <<<"$stderr")" = 1 ] ||
		fail "expected the write error once on stderr"
	wait_receiver bob
	assert_recv bob '.[0].body == "despite the trace"'
}
