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
