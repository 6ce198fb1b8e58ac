# shellcheck shell=bash
# Helpers for the xmpp-send feature tests (tests/xmpp-send-*.bats), loaded
# after helpers/common; they also provide those files' setup and teardown.
# Lines carry a tag unique to the test, so that messages left over from other
# tests (offline storage) never count.

setup() {
	xu_require_tool xmpp-send
}

teardown() {
	xu_common_teardown
}

# A tag unique to this test.
send_tag() {
	printf 't%s-%s' "$BATS_TEST_NUMBER" "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
}

# A room name unique to this test, at the test MUC service.
send_room() {
	printf 'r%s-%s@%s' "$BATS_TEST_NUMBER" "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')" "$XU_MUC"
}

# tagged_numbers NAME TAG: the N of every received line "TAG N" (bodies may
# hold several lines), in arrival order.
tagged_numbers() {
	jq -r '.body // empty' "$BATS_TEST_TMPDIR/$1.json" 2>/dev/null | sed -n "s/^$2 //p"
}

# wait_tagged NAME TAG COUNT [SECONDS]: poll until COUNT distinct tagged lines
# arrived (default 60 s). Fails with what arrived otherwise.
wait_tagged() {
	local name=$1 tag=$2 want=$3 secs=${4:-60} i got=0
	for i in $(seq 1 $((secs * 10))); do
		got=$(tagged_numbers "$name" "$tag" | sort -un | wc -l)
		[ "$got" -ge "$want" ] && return 0
		sleep 0.1
	done
	printf '# receiver %s: %s of %s lines tagged %s\n' "$name" "$got" "$want" "$tag"
	sed 's/^/#   /' "$BATS_TEST_TMPDIR/$name.err" | head -20
	fail "not all lines arrived at $name"
}

# assert_lines_arrived NAME TAG FIRST LAST: every line "TAG N" for N in
# FIRST..LAST arrived at receiver NAME (some perhaps twice), and no other.
assert_lines_arrived() {
	wait_tagged "$1" "$2" $(($4 - $3 + 1)) 30
	diff <(tagged_numbers "$1" "$2" | sort -un) <(seq "$3" "$4") >/dev/null ||
		fail "lines missing at $1 (expected $3..$4)"
}

# owner_room ROOM [mucroom.py options...]: create and configure ROOM as carol.
owner_room() {
	local room=$1
	shift
	XU_OWNER_PASSWORD=$(xu_password carol) \
		"$XU_PYTHON" "$XU_TESTS_DIR/bin/mucroom.py" --jid "carol@$XU_DOMAIN" --room "$room" "$@" \
		</dev/null 3>&- || fail "mucroom.py could not set up $room"
}

# xsend_bg INPUT ARGS...: start xmpp-send in the background reading INPUT
# (e.g. a FIFO: opened by the background process, so this never blocks),
# stdout/stderr to $BATS_TEST_TMPDIR/bg.out/.err; its pid in SEND_PID.
xsend_bg() {
	local input=$1
	shift
	"$XU_BIN/xmpp-send" "$@" <"$input" >"$BATS_TEST_TMPDIR/bg.out" 2>"$BATS_TEST_TMPDIR/bg.err" 3>&- &
	SEND_PID=$!
	_xu_track "$SEND_PID"
}

# wait_bg STATUS: wait for the xmpp-send started by xsend_bg; fail unless it
# exited with STATUS. Its stderr is printed (bats shows it on failure).
wait_bg() {
	local rc=0
	wait "$SEND_PID" || rc=$?
	sed 's/^/# bg stderr: /' "$BATS_TEST_TMPDIR/bg.err"
	[ "$rc" = "$1" ] || fail "xmpp-send exited $rc, expected $1"
}

# wait_file_match FILE ERE [SECONDS]: poll until FILE has a line matching ERE.
wait_file_match() {
	local file=$1 re=$2 secs=${3:-30} i
	for i in $(seq 1 $((secs * 20))); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
