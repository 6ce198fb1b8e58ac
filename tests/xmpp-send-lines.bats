#!/usr/bin/env bats
# xmpp-send --lines: streaming stdin lines as messages, none lost.

load helpers/common
load helpers/send-stream

@test "lines: 10,000 lines, one message each, arrive in order and none twice" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 100000 --timeout 120
	seq 1 10000 | sed "s/^/$tag /" >"$BATS_TEST_TMPDIR/in"
	XU_CMD_TIMEOUT=120 xsend -v -l --one-per-line --rate 0 "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	assert_stderr_matches '10000 lines delivered in 10000 message'
	wait_tagged r "$tag" 10000 60
	# exactly 1..10000 in order: nothing missing, nothing twice
	diff <(tagged_numbers r "$tag") <(seq 1 10000) >/dev/null || fail "lines out of order or duplicated"
	assert_recv r "[.[] | select(.body | startswith(\"$tag \"))] | length == 10000"
}

@test "lines: a 10,000-line burst under the default rate arrives complete, joined into few messages" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 100000 --timeout 120
	seq 1 10000 | sed "s/^/$tag /" >"$BATS_TEST_TMPDIR/in"
	XU_CMD_TIMEOUT=120 xsend -v -l "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_tagged r "$tag" 10000 60
	diff <(tagged_numbers r "$tag") <(seq 1 10000) >/dev/null || fail "lines out of order or duplicated"
	# flood control: far fewer messages than lines, none over the default 32 KiB
	assert_recv r "[.[] | select(.body // \"\" | startswith(\"$tag \"))] | length < 100"
	assert_recv r "[.[] | select(.body // \"\" | startswith(\"$tag \")) | .body | utf8bytelength] | max <= 32768"
}

@test "lines: server restarted in the middle of a 2,000-line stream: every line arrives, exit 0" {
	local tag
	tag=$(send_tag)
	# the restart happens when the producer has written half of the lines;
	# the other half keeps coming while the server is away
	(
		wait_file_match "$BATS_TEST_TMPDIR/mid" . 30 && prosody_restart
		echo done >"$BATS_TEST_TMPDIR/restarted"
	) 3>&- &
	_xu_track $!
	producer() {
		seq 1 1000 | sed "s/^/$tag /"
		# once messages flow, the server goes away
		wait_file_match "$BATS_TEST_TMPDIR/trace" '^C: <message' 30
		echo go >"$BATS_TEST_TMPDIR/mid"
		for c in $(seq 0 19); do
			seq $((1001 + c * 50)) $((1050 + c * 50)) | sed "s/^/$tag /"
			sleep 0.1
		done
	}
	XU_CMD_TIMEOUT=90 xsend -v -l --timeout 20 --trace "$BATS_TEST_TMPDIR/trace" "carol@$XU_DOMAIN" < <(producer)
	assert_status 0
	assert_stderr_matches 'reconnecting'
	# at least one reconnect (a server that accepts a connection while it
	# is still shutting down, as ejabberd does, makes it two)
	assert_stderr_matches '2000 lines delivered .* over [2-4] connection'
	# the tool can be done before prosody_restart has seen the new server ready
	wait_file_match "$BATS_TEST_TMPDIR/restarted" done 60 || fail "the server was not restarted"
	# carol was offline: everything waits in offline storage
	start_receiver r carol --offline --count 100000 --timeout 60
	assert_lines_arrived r "$tag" 1 2000
}

@test "lines: connection cut in the middle of a stream: reconnects, resends, exit 0" {
	local tag sport
	tag=$(send_tag)
	start_receiver r bob --count 100000 --timeout 60
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --one-per-line --rate 0 "bob@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	seq 1 500 | sed "s/^/$tag /" >&4
	wait_tagged r "$tag" 500 30
	sport=$(ss -tnpH state established "( dport = :$XU_C2S_PORT )" | grep "pid=$SEND_PID," | awk '{print $3}' | sed 's/.*://')
	[ -n "$sport" ] || fail "cannot find the connection of xmpp-send"
	ss -K "( dport = :$XU_C2S_PORT and sport = :$sport )" >/dev/null 2>&1 || true
	seq 501 1000 | sed "s/^/$tag /" >&4
	exec 4>&-
	wait_bg 0
	grep -q reconnecting "$BATS_TEST_TMPDIR/bg.err" || fail "no reconnect"
	assert_lines_arrived r "$tag" 1 1000
}

@test "lines: empty lines are skipped, CRLF endings and a last line without newline are handled" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 3
	printf '%s one\r\n\n\n   \n%s two\n\r\n%s three' "$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag one\", \"$tag two\", \"$tag three\"]"
}

@test "lines: ANSI colour codes and NUL bytes arrive sanitised, with one warning" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 3
	printf '\033[1;31m%s red\033[0m alert\n%s nul\000byte\n%s \033]0;title\007bell\007 end\n' \
		"$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag red alert\", \"$tag nul\ufffdbyte\", \"$tag bell\ufffd end\"]"
	assert_stderr_matches 'removed 3 ANSI escape sequence\(s\), replaced 2 control'
}

@test "lines: --batch joins the lines that arrive within the window into one message" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 2
	producer() {
		# the window is timing: start it once logged in (slow under valgrind)
		wait_file_match "$BATS_TEST_TMPDIR/trace" '^\* session ready' 60
		for i in 1 2 3 4 5; do
			echo "$tag $i"
			sleep 0.1
		done
		sleep 2.5
		echo "$tag 6"
	}
	xsend -v -l --batch 1.5s --trace "$BATS_TEST_TMPDIR/trace" "bob@$XU_DOMAIN" < <(producer)
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag 1\n$tag 2\n$tag 3\n$tag 4\n$tag 5\", \"$tag 6\"]"
	assert_stderr_matches '6 lines delivered in 2 message'
}

@test "lines: without --batch, lines arriving slower than --rate go one per message" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 4
	printf '%s a\n%s b\n%s c\n%s d\n' "$tag" "$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag a\", \"$tag b\", \"$tag c\", \"$tag d\"]"
}

@test "lines: --rate is honoured: one per line at 4/s takes its time; a burst is joined" {
	local tag n
	tag=$(send_tag)
	start_receiver r bob --count 12
	seq 1 12 | sed "s/^/$tag /" >"$BATS_TEST_TMPDIR/in"
	xsend -v -l --rate 4 --one-per-line "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	# 4 at once (the bucket), then 8 more at 4/s: at least ~2 s
	[ "$elapsed_ms" -ge 1700 ] || fail "12 messages at --rate 4 took only $elapsed_ms ms"
	assert_stderr_matches '12 lines delivered in 12 message'

	# a burst of 300 lines at --rate 2: every line arrives, in few messages
	tag=$(send_tag)
	start_receiver r2 bob --count 100000 --timeout 60
	seq 1 300 | sed "s/^/$tag /" >"$BATS_TEST_TMPDIR/in2"
	xsend -v -l --rate 2 --max-size 1000 "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in2"
	assert_status 0
	wait_tagged r2 "$tag" 300 30
	diff <(tagged_numbers r2 "$tag") <(seq 1 300) >/dev/null || fail "lines out of order or duplicated"
	n=$(jq -s "[.[] | select(.body // \"\" | startswith(\"$tag \"))] | length" "$BATS_TEST_TMPDIR/r2.json")
	# counted, not timed: no more messages than the bucket (2) plus 2 per second
	[ "$n" -le $((2 + 2 * (elapsed_ms + 999) / 1000 + 1)) ] || fail "$n messages in $elapsed_ms ms at --rate 2"
}

@test "lines: a 1 MiB line is split at character boundaries and all parts arrive" {
	local tag parts
	tag=$(send_tag)
	# 3-byte characters, so a 32 KiB cut would fall inside one if done bytewise
	"$XU_PYTHON" -c "import sys; sys.stdout.write('$tag ' + '€' * 349525 + 'x\n')" >"$BATS_TEST_TMPDIR/in"
	parts=$("$XU_PYTHON" -c "import math; print(math.ceil((len('$tag ') + 349525 * 3 + 1) / 32766))")
	start_receiver r bob --count "$parts" --timeout 60
	XU_CMD_TIMEOUT=90 xsend -v -l --rate 20 "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	assert_stderr_matches "1 lines delivered in $parts message"
	wait_receiver r
	# every part is valid UTF-8 within the limit, and together they are the line
	assert_recv r '[.[].body | utf8bytelength] | max <= 32768'
	[ "$(jq -j '.body' "$BATS_TEST_TMPDIR/r.json")" = "$(head -c -1 "$BATS_TEST_TMPDIR/in")" ] ||
		fail "the parts do not add up to the line"
}

@test "lines: a full buffer while the server is down drops the oldest, counted, exit 75" {
	local tag
	tag=$(send_tag)
	prosody_stop
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --buffer 5 --timeout 20 "carol@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	seq 1 20 | sed "s/^/$tag /" >&4
	wait_file_match "$BATS_TEST_TMPDIR/bg.err" 'buffer is full' 20 || fail "no warning: $(cat "$BATS_TEST_TMPDIR/bg.err")"
	prosody_start 4>&- # the server must not hold our end of the FIFO open
	exec 4>&-
	wait_bg 75
	grep -q '15 lines were dropped' "$BATS_TEST_TMPDIR/bg.err" || fail "the drops were not counted"
	start_receiver r carol --offline --count 100000 --timeout 30
	assert_lines_arrived r "$tag" 16 20
}

@test "lines: SIGTERM delivers what was read (even a pending --batch), closes, exits 143" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 1
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --batch 1h --trace "$BATS_TEST_TMPDIR/trace" "bob@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	printf '%s a\n%s b\n' "$tag" "$tag" >&4
	# once it is connecting, its signal handlers are in place
	wait_file_match "$BATS_TEST_TMPDIR/trace" 'connecting to' 10 || fail "it never started connecting"
	kill -TERM "$SEND_PID"
	wait_bg 143
	exec 4>&-
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag a\n$tag b\"]"
}

@test "lines: unusable settings are refused before connecting" {
	xsend -l -m text "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	xsend --batch 2s "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	assert_stderr_matches 'needs --lines'
	xsend -l --batch 2s --one-per-line "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	xsend -l --rate fast "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	assert_stderr_matches 'rate'
	xsend -l --max-size 3 "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	xsend -l --buffer 0 "bob@$XU_DOMAIN" </dev/null
	assert_status 64
}

@test "lines: a server that never comes back: bounded by --retry, lines counted as lost" {
	local t0
	start_sink closed
	xsend -l --port "$SINK_PORT" --retry 1 "bob@$XU_DOMAIN" < <(printf 'a\nb\n')
	assert_status 69
	assert_stderr_matches 'trying again in'
	assert_stderr_matches 'gave up after 2 attempts.*2 lines not delivered'
	# unlimited retries end with the final wait after the end of the input
	xsend -l --port "$SINK_PORT" --timeout 3 "bob@$XU_DOMAIN" < <(printf 'a\n')
	[ "$status" = 69 ] || [ "$status" = 75 ] || fail "exit $status"
	[ "$elapsed_ms" -lt 8000 ] || fail "took $elapsed_ms ms with --timeout 3"
	assert_stderr_matches '1 line not delivered|1 line not acknowledged'
}
