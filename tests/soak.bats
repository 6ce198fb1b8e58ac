#!/usr/bin/env bats
# Memory growth: a tool that handles 10,000 stanzas must not hold much more
# memory than one that handled 1,000 (peak RSS, tests/bin/maxrss.py). The
# numbers are printed (# lines) for the record. Skipped under valgrind and the
# sanitizers, whose own bookkeeping swamps what is measured.
#
# Adding a tool: a soak_* function that runs it on N stanzas through
# soak_measure (it must set SOAK_RSS), and a test calling soak_growth with it.

load helpers/common

# Growth allowed from 1,000 to 10,000 stanzas, in KiB.
SOAK_BOUND_KB=${SOAK_BOUND_KB:-2048}

setup() {
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		skip "RSS under valgrind measures valgrind"
	fi
	case $XU_BIN in */build-san/bin) skip "RSS under ASan measures its quarantine" ;; esac
}

teardown() {
	xu_common_teardown
}

# soak_measure NAME CMD...: run CMD under maxrss.py; sets SOAK_RSS (KiB) and
# SOAK_STATUS. stdin/stdout are the caller's.
soak_measure() {
	local name=$1
	shift
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/maxrss.py" "$BATS_TEST_TMPDIR/$name.rss" "$@"
	SOAK_STATUS=$?
	SOAK_RSS=$(cat "$BATS_TEST_TMPDIR/$name.rss" 2>/dev/null || echo 0)
}

# soak_growth FUNCTION LABEL: FUNCTION N sets SOAK_RSS for N stanzas; checks
# the growth from 1,000 to 10,000 against SOAK_BOUND_KB.
soak_growth() {
	local fn=$1 label=$2 r1 r10
	"$fn" 1000
	r1=$SOAK_RSS
	"$fn" 10000
	r10=$SOAK_RSS
	printf '# %s: peak RSS %d KiB at 1k, %d KiB at 10k (growth %d KiB, bound %d)\n' \
		"$label" "$r1" "$r10" $((r10 - r1)) "$SOAK_BOUND_KB" >&3
	echo "$label 1k=${r1}KiB 10k=${r10}KiB" >>"${SOAK_REPORT:-/dev/null}"
	[ "$r1" -gt 0 ] && [ "$r10" -gt 0 ] || fail "no measurement"
	[ $((r10 - r1)) -le "$SOAK_BOUND_KB" ] || fail "$label grew by $((r10 - r1)) KiB from 1k to 10k stanzas"
}

# soak_messages N TO TYPE: N <message/> lines to TO, then a ping to wait for.
soak_messages() {
	awk -v n="$1" -v to="$2" -v type="$3" -v d="$XU_DOMAIN" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "<message to=\"%s\" type=\"%s\" id=\"s%d\"><body>soak message %d</body></message>\n", to, type, i, i
		printf "<iq type=\"get\" id=\"last\" to=\"%s\"><ping xmlns=\"urn:xmpp:ping\"/></iq>\n", d
	}'
}

# ---------------------------------------------------------------- xmpp-bind

# N headline messages to an account that is not online (the server drops
# them: nothing piles up server-side), then one ping to wait for.
soak_bind_send() {
	local n=$1 in=$BATS_TEST_TMPDIR/send-$1.xml
	soak_messages "$n" "dave@$XU_DOMAIN" headline >"$in"
	XMPP_PASSWORD=$XU_ALICE_PASSWORD soak_measure "bind-send-$n" \
		"$XU_BIN/xmpp-bind" -a alice --stdio --timeout 120 <"$in" >"$BATS_TEST_TMPDIR/send-$n.out" 2>"$BATS_TEST_TMPDIR/send-$n.err"
	[ "$SOAK_STATUS" = 0 ] || fail "xmpp-bind --stdio sending $n: exit $SOAK_STATUS: $(cat "$BATS_TEST_TMPDIR/send-$n.err")"
	grep -q 'id="last"' "$BATS_TEST_TMPDIR/send-$n.out" || fail "no answer to the final ping"
}

# A bridge for erin receives N messages sent by another bridge for alice.
soak_bind_receive() {
	local n=$1 fifo=$BATS_TEST_TMPDIR/recv-$1.fifo out=$BATS_TEST_TMPDIR/recv-$1.out pid i got=0
	rm -f "$fifo"
	mkfifo "$fifo"
	XMPP_PASSWORD=$XU_ERIN_PASSWORD "$XU_PYTHON" "$XU_TESTS_DIR/bin/maxrss.py" "$BATS_TEST_TMPDIR/recv-$n.rss" \
		"$XU_BIN/xmpp-bind" -a erin --stdio --presence --timeout 0 <"$fifo" >"$out" 2>"$out.err" 3>&- &
	pid=$!
	_xu_track "$pid"
	exec 5>"$fifo" # hold the bridge's stdin open
	for i in $(seq 1 200); do
		grep -q '^<presence ' "$out" && break
		sleep 0.05
	done
	soak_messages "$n" "erin@$XU_DOMAIN" chat | XMPP_PASSWORD=$XU_ALICE_PASSWORD "$XU_BIN/xmpp-bind" -a alice --stdio --timeout 120 >/dev/null 2>"$out.send.err" ||
		fail "sender failed: $(cat "$out.send.err")"
	for i in $(seq 1 1200); do
		got=$(grep -c '^<message .*soak message' "$out" || true)
		[ "$got" -ge "$n" ] && break
		sleep 0.1
	done
	exec 5>&-
	wait "$pid"
	SOAK_STATUS=$?
	SOAK_RSS=$(cat "$BATS_TEST_TMPDIR/recv-$n.rss" 2>/dev/null || echo 0)
	[ "$got" -ge "$n" ] || fail "erin's bridge printed $got of $n messages"
	[ "$SOAK_STATUS" = 0 ] || fail "erin's bridge: exit $SOAK_STATUS: $(cat "$out.err")"
}

@test "soak: xmpp-bind --stdio sending 1k and 10k stanzas: peak RSS grows less than the bound" {
	xu_require_tool xmpp-bind
	soak_growth soak_bind_send "xmpp-bind --stdio sending"
}

@test "soak: xmpp-bind --stdio receiving 1k and 10k messages: peak RSS grows less than the bound" {
	xu_require_tool xmpp-bind
	soak_growth soak_bind_receive "xmpp-bind --stdio receiving"
}

# ---------------------------------------------------------------- xmpp-send --lines

# N lines as N headline messages to an account that is not online.
soak_send_lines() {
	local n=$1
	seq -f 'soak line %g' 1 "$n" >"$BATS_TEST_TMPDIR/lines-$n.txt"
	XMPP_PASSWORD=$XU_ALICE_PASSWORD soak_measure "send-lines-$n" \
		"$XU_BIN/xmpp-send" -a alice --lines --one-per-line --rate 0 -t headline --timeout 120 \
		"dave@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/lines-$n.txt" >/dev/null 2>"$BATS_TEST_TMPDIR/lines-$n.err"
	[ "$SOAK_STATUS" = 0 ] || fail "xmpp-send --lines with $n lines: exit $SOAK_STATUS: $(cat "$BATS_TEST_TMPDIR/lines-$n.err")"
}

@test "soak: xmpp-send --lines sending 1k and 10k lines: peak RSS grows less than the bound" {
	xu_require_tool xmpp-send
	soak_growth soak_send_lines "xmpp-send --lines"
}

# ---------------------------------------------------------------- xmpp-listen

# xmpp-listen --count N for erin; N messages from alice's bridge.
soak_listen() {
	local n=$1 out=$BATS_TEST_TMPDIR/listen-$1.out pid i k
	XMPP_PASSWORD=$XU_ERIN_PASSWORD "$XU_PYTHON" "$XU_TESTS_DIR/bin/maxrss.py" "$BATS_TEST_TMPDIR/listen-$n.rss" \
		"$XU_BIN/xmpp-listen" -a erin --count "$n" --kind message --keepalive 0 --timeout 180 \
		</dev/null >"$out" 2>"$out.err" 3>&- &
	pid=$!
	_xu_track "$pid"
	# listening once a warm-up message gets through (each one counts)
	for i in $(seq 1 100); do
		XMPP_PASSWORD=$XU_ALICE_PASSWORD "$XU_BIN/xmpp-send" -a alice -t chat -m "soak warm-up $i" "erin@$XU_DOMAIN" 2>/dev/null
		grep -q 'soak warm-up' "$out" && break
		sleep 0.1
	done
	grep -q 'soak warm-up' "$out" || fail "xmpp-listen did not get ready: $(cat "$out.err")"
	sleep 0.2
	k=$(grep -c 'soak warm-up' "$out")
	# exactly the rest, so that nothing is left for erin's offline store
	soak_messages "$((n - k))" "erin@$XU_DOMAIN" chat | XMPP_PASSWORD=$XU_ALICE_PASSWORD "$XU_BIN/xmpp-bind" -a alice --stdio --timeout 120 >/dev/null 2>"$out.send.err" ||
		fail "sender failed: $(cat "$out.send.err")"
	wait "$pid"
	SOAK_STATUS=$?
	SOAK_RSS=$(cat "$BATS_TEST_TMPDIR/listen-$n.rss" 2>/dev/null || echo 0)
	[ "$SOAK_STATUS" = 0 ] || fail "xmpp-listen --count $n: exit $SOAK_STATUS: $(cat "$out.err")"
	[ "$(wc -l <"$out")" -eq "$n" ] || fail "xmpp-listen printed $(wc -l <"$out") lines, want $n"
}

@test "soak: xmpp-listen receiving 1k and 10k messages: peak RSS grows less than the bound" {
	xu_require_tool xmpp-listen
	xu_require_tool xmpp-bind
	soak_growth soak_listen "xmpp-listen receiving"
}
