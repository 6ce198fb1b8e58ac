#!/usr/bin/env bats
# XEP-0198 stream management by the suite (lib/xmpp/sm.c, lib/send/deliver.c): a stream
# cut mid-way is resumed, and only what the server had not counted is sent
# again; an independent receiver (slixmpp) counts what arrived.

load helpers/common
load helpers/send-stream

# tagged_dups NAME TAG: how many tagged lines arrived more than once.
tagged_dups() {
	tagged_numbers "$1" "$2" | sort -n | uniq -d | wc -l
}

@test "sm: connection cut (ss -K) mid --lines: the stream is resumed, zero duplicates and zero loss at the receiver" {
	local tag sport i
	xu_needs_server prosody "Prosody's mod_smacks resumes streams"
	tag=$(send_tag)
	start_receiver r bob --count 100000 --timeout 60
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --one-per-line --rate 0 --trace "$BATS_TEST_TMPDIR/trace" "bob@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	seq 1 500 | sed "s/^/$tag /" >&4
	wait_tagged r "$tag" 500 30
	grep -q '^\* stream management enabled, resumable' "$BATS_TEST_TMPDIR/trace" || fail "SM not enabled"
	sport=$(ss -tnpH state established "( dport = :$XU_C2S_PORT )" | grep "pid=$SEND_PID," | awk '{print $3}' | sed 's/.*://')
	[ -n "$sport" ] || fail "cannot find the connection of xmpp-send"
	# lines in flight when the connection dies
	seq 501 700 | sed "s/^/$tag /" >&4
	ss -K "( dport = :$XU_C2S_PORT and sport = :$sport )" >/dev/null 2>&1 || true
	seq 701 1000 | sed "s/^/$tag /" >&4
	exec 4>&-
	wait_bg 0
	grep -q '^\* stream resumed' "$BATS_TEST_TMPDIR/trace" || fail "the stream was not resumed"
	assert_lines_arrived r "$tag" 1 1000
	sleep 1 # anything sent twice would arrive by now
	[ "$(tagged_dups r "$tag")" = 0 ] || fail "$(tagged_dups r "$tag") lines arrived twice"
	[ "$(tagged_numbers r "$tag" | wc -l)" = 1000 ] || fail "$(tagged_numbers r "$tag" | wc -l) lines arrived, not 1000"
}

@test "sm: after a server restart resumption is refused: binds afresh, resends what was not acknowledged, exit 0" {
	local tag
	xu_needs_server prosody "restarts Prosody"
	tag=$(send_tag)
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --one-per-line --rate 0 --timeout 40 --trace "$BATS_TEST_TMPDIR/trace" "carol@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	seq 1 100 | sed "s/^/$tag /" >&4
	wait_file_match "$BATS_TEST_TMPDIR/trace" '^S: <a h="[1-9]' 30 || fail "no acknowledgement"
	prosody_restart 4>&- # the server must not hold our end of the FIFO open
	seq 101 200 | sed "s/^/$tag /" >&4
	exec 4>&-
	wait_bg 0
	grep -q '^\* resumption refused: binding afresh' "$BATS_TEST_TMPDIR/trace" || fail "no refused resumption in the trace"
	# carol was offline: everything waits in offline storage
	start_receiver r carol --offline --count 100000 --timeout 60
	assert_lines_arrived r "$tag" 1 200
}

# A host whose server asks for acks only after 1000 stanzas
# (tests/helpers/prosody.bash): whatever xmpp-send got must be counted by its
# own <a/> before it closes, or the server hands it back to its sender or
# stores it for the account's other clients. alice and bob have accounts
# there with their usual passwords.
@test "sm: a server that seldom asks for acks: the receipts xmpp-send got are not bounced, nor kept for the account's other clients" {
	local d=$BATS_TEST_TMPDIR lazy=lazyack.$XU_DOMAIN tag
	xu_needs_server prosody "the host that asks for acks seldom is set up for Prosody only"
	tag=$(send_tag)
	(umask 077 && xu_password alice >"$d/alice.pw" && xu_password bob >"$d/bob.pw")
	start_receiver r bob --jid "bob@$lazy" --receipts --count 3
	printf '%s a\n%s b\n%s c\n' "$tag" "$tag" "$tag" >"$d/in"
	xsend -l --receipt --jid "alice@$lazy" --password-file "$d/alice.pw" "bob@$lazy" <"$d/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[] | select(.type == \"error\")] == []"
	# alice's other client comes online: nothing was stored for it but what follows
	start_receiver a alice --jid "alice@$lazy" --offline --count-all --count 1
	xsend --jid "bob@$lazy" --password-file "$d/bob.pw" -m "$tag end" "alice@$lazy"
	assert_status 0
	wait_receiver a
	assert_recv a "[.[].body] == [\"$tag end\"]"
}
