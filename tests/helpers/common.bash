# shellcheck shell=bash
# Shared helpers for the bats files: `load helpers/common` at the top of each.
# The server itself is started once per run by tests/setup_suite.bash.

XU_HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XU_TESTS_DIR=$(cd "$XU_HELPERS_DIR/.." && pwd)
# the server of this run (tests/setup_suite.bash): prosody or ejabberd
case ${XU_SERVER:=prosody} in
prosody | ejabberd) ;;
*) echo "xu-test: unknown XU_SERVER '$XU_SERVER'" >&2; exit 1 ;;
esac
# shellcheck source=prosody.bash
source "$XU_HELPERS_DIR/$XU_SERVER.bash"

for _lib in bats-support bats-assert; do
	if [ -f "/usr/lib/bats/$_lib/load.bash" ]; then
		# shellcheck disable=SC1090
		source "/usr/lib/bats/$_lib/load.bash"
	fi
done
unset _lib

XU_BIN=${XU_BIN:-$(cd "$XU_TESTS_DIR/.." && pwd)/build/bin}
export XU_BIN

if [ -z "${XU_TMP:-}" ] || [ ! -d "${XU_TMP:-}" ]; then
	echo "xu-test: no test server (XU_TMP unset): run the suite with tests/run or bats tests/" >&2
	exit 1
fi

# Fail at once (with a clear message) when the tool under test was not built.
xu_require_tool() {
	[ -x "$XU_BIN/$1" ] || fail "$XU_BIN/$1 does not exist: build it first (make), or set XU_BIN"
}

# Everything started in the background by a test is recorded here and killed
# in xu_common_teardown.
_xu_track() {
	echo "$1" >>"$BATS_TEST_TMPDIR/bg.pids"
}

xu_common_teardown() {
	local pid
	if [ -f "$BATS_TEST_TMPDIR/bg.pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/bg.pids"
		rm -f "$BATS_TEST_TMPDIR/bg.pids"
	fi
	# A test that stopped the server must not break the next one.
	xu_server_is_running || xu_server_start
}

# xu_needs_server NAME WHY: skip the test unless this run is against server
# NAME (XMPP_TEST_SERVERS): for behaviour where the servers may differ.
xu_needs_server() {
	[ "$XU_SERVER" = "$1" ] || skip "$XU_SERVER: $2"
}

# xu_skip_under_valgrind WHY: for a test whose time bound valgrind's
# slowness (seconds per login) makes meaningless.
xu_skip_under_valgrind() {
	[ "${XU_VALGRIND:-0}" != 1 ] || skip "under valgrind: $1"
}

_ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

# xsend ARGS...: run xmpp-send (stdin as given by the caller). Sets
#   status, output (stdout), stderr, elapsed_ms
# and prints a summary that bats shows if the test fails. A hung tool is
# killed after XU_CMD_TIMEOUT seconds (status 124). The tool runs in a new
# session without a controlling terminal, so it can never sit at a /dev/tty
# prompt. Any sanitizer or valgrind report fails the test.
xsend() {
	xu_run_tool xmpp-send "$@"
}

xu_run_tool() {
	local tool=$1 t0 t1 out err
	shift
	out=$BATS_TEST_TMPDIR/tool.out
	err=$BATS_TEST_TMPDIR/tool.err
	local -a wrap=()
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
			--suppressions="$XU_TESTS_DIR/valgrind.supp")
	fi
	t0=$(_ms_now)
	set +e
	# XU_WRAP: a command prefix set by the test (e.g. helpers/dns.bash's XU_DNS_WRAP).
	# The login state (downgrade protection, SCRAM cache): one per test, so
	# that no test sees what another test's logins left behind
	XDG_STATE_HOME=${XU_STATE_HOME:-$BATS_TEST_TMPDIR/state} \
		setsid -w timeout -k 5 "${XU_CMD_TIMEOUT:-60}" ${XU_WRAP[@]+"${XU_WRAP[@]}"} "${wrap[@]}" \
		"$XU_BIN/$tool" "$@" >"$out" 2>"$err"
	status=$?
	set -e
	t1=$(_ms_now)
	elapsed_ms=$((t1 - t0))
	output=$(cat "$out")
	stderr=$(cat "$err")
	# shellcheck disable=SC2034 # for the caller
	mapfile -t lines <<<"$output"
	printf '# %s %s\n# -> status %s after %s ms\n' "$tool" "$*" "$status" "$elapsed_ms"
	[ -z "$output" ] || printf '# stdout: %s\n' "${output//$'\n'/$'\n# stdout: '}"
	[ -z "$stderr" ] || printf '# stderr: %s\n' "${stderr//$'\n'/$'\n# stderr: '}"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|^==[0-9]+== ' "$err"; then
		fail "$tool: sanitizer/valgrind report on stderr (see above)"
	fi
	return 0
}

# assert_status N: the last xsend exited with N.
assert_status() {
	if [ "$status" != "$1" ]; then
		fail "expected exit status $1, got $status"
	fi
}

# assert_stderr_matches ERE: stderr matches (case-insensitive extended regex).
assert_stderr_matches() {
	if ! grep -Eqi -- "$1" <<<"$stderr"; then
		fail "stderr does not match /$1/i"
	fi
}

# start_receiver NAME USER [receiver.py options...]
# Starts tests/bin/receiver.py logged in as USER@XU_DOMAIN in the background and
# waits until it is READY (bounded). Its JSON lines go to $BATS_TEST_TMPDIR/NAME.json.
start_receiver() {
	local name=$1 user=$2 pid i
	shift 2
	local dir=$BATS_TEST_TMPDIR
	rm -f "$dir/$name.ready"
	XU_RECEIVER_PASSWORD=$(xu_password "$user") \
		"$XU_PYTHON" "$XU_TESTS_DIR/bin/receiver.py" --jid "$user@$XU_DOMAIN" \
		--ready-file "$dir/$name.ready" "$@" \
		>"$dir/$name.json" 2>"$dir/$name.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "XU_RECV_PID_$name=$pid"
	for i in $(seq 1 200); do
		[ -e "$dir/$name.ready" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir/$name.err" >&2
	fail "receiver $name ($user) did not get ready"
}

# wait_receiver NAME: wait for it to exit; fails unless it got its --count messages.
wait_receiver() {
	local name=$1 pid rc=0
	pid=$(eval "echo \$XU_RECV_PID_$name")
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		printf '# receiver %s exited %s; it got:\n' "$name" "$rc"
		sed 's/^/#   /' "$BATS_TEST_TMPDIR/$name.json" "$BATS_TEST_TMPDIR/$name.err"
		fail "receiver $name did not receive what was expected"
	fi
}

# recv_jq NAME FILTER: jq -r FILTER over the receiver's JSON lines (slurped into an array).
recv_jq() {
	jq -sr "$2" "$BATS_TEST_TMPDIR/$1.json"
}

# assert_recv NAME FILTER: the jq FILTER over the received array is true.
assert_recv() {
	local got
	got=$(jq -se "$2" "$BATS_TEST_TMPDIR/$1.json" 2>&1) || {
		printf '# receiver %s got:\n' "$1"
		sed 's/^/#   /' "$BATS_TEST_TMPDIR/$1.json"
		fail "receiver $1: jq check failed: $2 ($got)"
	}
}

# start_sink silent|closed: a local port that never answers / refuses
# connections, held by a helper process for the rest of the test. Sets SINK_PORT.
start_sink() {
	local mode=$1 pf=$BATS_TEST_TMPDIR/sink-$1.port pid i
	rm -f "$pf"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" sink "$mode" --port-file "$pf" \
		>/dev/null 2>&1 </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 100); do
		if [ -s "$pf" ]; then
			SINK_PORT=$(cat "$pf")
			return 0
		fi
		sleep 0.02
	done
	fail "netutil.py sink $mode did not start"
}

# write_config FILE [MODE]: the defaults block for the test server (no account,
# no password) followed by stdin; mode 0600 unless given.
write_config() {
	local file=$1 mode=${2:-600}
	{
		printf 'defaults\nhost 127.0.0.1\nport %s\ntls starttls\ntls_trust_file %s\ntimeout 20\n\n' \
			"$XU_C2S_PORT" "$XU_CA"
		cat
	} >"$file"
	chmod "$mode" "$file"
}

# A config with the accounts but without any password (for the password-source tests).
nopw_config() {
	local f=$BATS_TEST_TMPDIR/nopw.conf
	write_config "$f" <<-EOF
		account alice
		jid alice@$XU_DOMAIN

		account bob
		jid bob@$XU_DOMAIN
	EOF
	echo "$f"
}

# A config without a trust file and without a password (for the TLS trust tests).
noca_config() {
	local f=$BATS_TEST_TMPDIR/noca.conf
	cat >"$f" <<-EOF
		defaults
		host 127.0.0.1
		port $XU_C2S_PORT
		tls starttls
		timeout 20

		account alice
		jid alice@$XU_DOMAIN
	EOF
	chmod 600 "$f"
	echo "$f"
}

# Count lines of the Prosody log (since prosody_log_mark) matching ERE.
log_count() {
	prosody_log_since_mark | grep -Ec -- "$1" || true
}

# xu_has_server_log: true when the server's log has the suite's lines
# (Prosody with mod_xu_test); against ejabberd a test checks all the rest.
xu_has_server_log() {
	[ "$XU_SERVER" = prosody ]
}

# assert_log_count N ERE [MESSAGE]: Prosody's log since prosody_log_mark has
# N lines matching ERE. Against another server only this assertion is left
# out (said in the test's output), not the test.
assert_log_count() {
	local got
	if ! xu_has_server_log; then
		echo "# not checked against $XU_SERVER (no mod_xu_test log): ${3:-$2}"
		return 0
	fi
	got=$(log_count "$2")
	[ "$got" = "$1" ] || fail "${3:-the server log has $got lines matching /$2/, not $1} ($got lines)"
}
