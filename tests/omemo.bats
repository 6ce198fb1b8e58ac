#!/usr/bin/env bats
# OMEMO 0.3 (issue 16): xmpp-send --omemo and xmpp-listen --omemo against an
# independent implementation (tests/bin/omemo-peer.py: slixmpp + python-omemo
# with its oldmemo backend) on the suite's Prosody with mod_pep.

load helpers/common

setup() {
	# every test starts with fresh keys for everyone
	export XDG_DATA_HOME=$BATS_TEST_TMPDIR/data
	mkdir -p "$XDG_DATA_HOME"
	/usr/bin/python3 -c 'import omemo, oldmemo.etree' 2>/dev/null ||
		skip "python3-omemo, python3-oldmemo and python3-xmlschema are needed (tests/install-deps)"
}

teardown() {
	xu_common_teardown
}

# start_peer NAME USER [omemo-peer.py options...]: an OMEMO client logged in
# as USER@XU_DOMAIN/NAME, keeping its keys in $BATS_TEST_TMPDIR/NAME.store;
# waits until its device is published (PEER_DEVICE_NAME gets its id). Its
# JSON lines go to $BATS_TEST_TMPDIR/NAME.json.
start_peer() {
	local name=$1 user=$2 pid i dir=$BATS_TEST_TMPDIR
	shift 2
	rm -f "$dir/$name.ready"
	XU_RECEIVER_PASSWORD=$(xu_password "$user") \
		/usr/bin/python3 "$XU_TESTS_DIR/bin/omemo-peer.py" --jid "$user@$XU_DOMAIN/$name" \
		--storage "$dir/$name.store" --ready-file "$dir/$name.ready" "$@" \
		>>"$dir/$name.json" 2>>"$dir/$name.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "XU_RECV_PID_$name=$pid"
	for i in $(seq 1 400); do
		if [ -s "$dir/$name.ready" ]; then
			eval "PEER_DEVICE_$name=$(cat "$dir/$name.ready")"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir/$name.err" >&2
	fail "omemo peer $name ($user) did not get ready"
}

_wrap() {
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		echo valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			--suppressions="$XU_TESTS_DIR/valgrind.supp"
	fi
}

# start_listen NAME ARGS...: xmpp-listen -v ARGS in the background (stdout in
# NAME.out, stderr in NAME.err) until it says it is listening (our device is
# published by then).
start_listen() {
	local name=$1 pid i
	shift
	# shellcheck disable=SC2046 # the wrapper is words or nothing
	$(_wrap) "$XU_BIN/xmpp-listen" -v "$@" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "LISTEN_PID_$name=$pid"
	for i in $(seq 1 400); do
		grep -q '; listening$' "$BATS_TEST_TMPDIR/$name.err" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# /' "$BATS_TEST_TMPDIR/$name.err"
	fail "xmpp-listen $name did not start listening"
}

# wait_listen NAME [SECONDS]: wait for it to end by itself; sets lstatus.
wait_listen() {
	local name=$1 max=${2:-30} pid i
	eval "pid=\$LISTEN_PID_$name"
	for i in $(seq 1 $((max * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out"
		sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
		fail "xmpp-listen $name did not end within $max s"
	fi
	lstatus=0
	wait "$pid" || lstatus=$?
	printf '# xmpp-listen %s exited %s\n' "$name" "$lstatus"
	sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out"
	sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|^==[0-9]+== ' \
		"$BATS_TEST_TMPDIR/$name.err"; then
		fail "xmpp-listen $name: sanitizer/valgrind report on stderr"
	fi
}

# ljq NAME FILTER: jq -e FILTER over the listener's JSON lines (slurped).
ljq() {
	jq -se "$2" "$BATS_TEST_TMPDIR/$1.out" >/dev/null || fail "xmpp-listen $1: jq check failed: $2"
}

@test "omemo: a python-omemo client decrypts the first message (new session) and a later one" {
	xu_require_tool xmpp-send
	start_peer b bob --count 2
	xsend --omemo -m "first secret: db01 is down" "bob@$XU_DOMAIN"
	assert_status 0
	xsend --omemo -m "second secret" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	assert_recv b '.[0].encrypted and .[0].body == "first secret: db01 is down"'
	assert_recv b '.[1].encrypted and .[1].body == "second secret"'
	assert_recv b '[.[] | .fallback | test("secret") | not] | all'
}

@test "omemo: xmpp-listen decrypts what a python-omemo client sends (prekey message, then a normal one)" {
	xu_require_tool xmpp-listen
	start_listen l --omemo --format json -n 2 --kind message
	start_peer b bob --count 0 --to "alice@$XU_DOMAIN" --send "from python: one" --send "from python: two"
	wait_listen l
	[ "$lstatus" = 0 ] || fail "xmpp-listen exited $lstatus"
	ljq l "length == 2"
	ljq l ".[0].body == \"from python: one\" and .[1].body == \"from python: two\""
	ljq l "[.[] | .omemo.device == $PEER_DEVICE_b and .omemo.trust == \"blind\" and .omemo.error == null] | all"
	ljq l "[.[] | .from | startswith(\"bob@$XU_DOMAIN/\")] | all"
}

@test "omemo: xmpp-listen reports a corrupted message and goes on" {
	xu_require_tool xmpp-listen
	start_listen l --omemo --format json -n 2 --kind message
	start_peer bad bob --count 0 --to "alice@$XU_DOMAIN" --send "tampered" --corrupt
	start_peer good carol --count 0 --to "alice@$XU_DOMAIN" --send "intact"
	wait_listen l
	[ "$lstatus" = 0 ] || fail "xmpp-listen exited $lstatus"
	ljq l ".[0].body == null and (.[0].omemo.error | test(\"corrupted\"))"
	ljq l ".[1].body == \"intact\" and .[1].omemo.error == null"
	grep -q tampered "$BATS_TEST_TMPDIR/l.out" && fail "the tampered text was shown"
	true
}
