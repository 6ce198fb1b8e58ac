# shellcheck shell=bash
# Helpers for tests/misbehave.bats: run a tool against tests/misbehave/peer.py
# (a scripted, misbehaving server) and check what a user and an attacker
# would see: exit code, message, time taken, what crossed the wire in clear.
#
# Adding a tool: give its arguments in mb_tool_args and its expectations in
# mb_expect; list it in MB_TOOLS. Each scenario test then covers it.

MB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Every tool that exists in XU_BIN and has a row in mb_tool_args.
MB_TOOLS=${MB_TOOLS:-"xmpp-send xmpp-bind xmpp-listen xmpp-probe"}
MB_TIMEOUT=${MB_TIMEOUT:-4}
# How far past --timeout a run may end (seconds): the deadline alarm fires
# 0.25 s late and the last resort 2 s later; the machine is shared.
MB_SLACK=${MB_SLACK:-1.5}
# "At once": a failure the tool must notice without waiting for the deadline.
MB_QUICK_MS=${MB_QUICK_MS:-2000}
if [ "${XU_VALGRIND:-0}" = 1 ]; then
	# valgrind alone takes seconds to start a tool
	MB_SLACK=6
	MB_TIMEOUT=15
	MB_QUICK_MS=10000
fi

# assert_quick: the run ended well before its deadline.
assert_quick() {
	[ "$elapsed_ms" -lt "$MB_QUICK_MS" ] || fail "took $elapsed_ms ms (more than $MB_QUICK_MS)"
}

# The arguments (one per line) that make TOOL do its one job against the
# peer; the job ends with an iq the peer answers in the ok case (the ping).
mb_tool_args() {
	case $1 in
	xmpp-send) printf '%s\n' -m hello "bob@$XU_DOMAIN" ;;
	xmpp-bind) printf '%s\n' --query "<iq type='get' to='$XU_DOMAIN' id='mb1'><ping xmlns='urn:xmpp:ping'/></iq>" ;;
	# one stanza (the peer's message), pinging after 1 s of silence
	xmpp-listen) printf '%s\n' --count 1 --keepalive 1 ;;
	# as a monitor would run it; the suite's certificate lives 7 days
	xmpp-probe) printf '%s\n' --nagios --warn-days 0 --crit-days 0 ;;
	*) return 1 ;;
	esac
}

# How many connections TOOL makes to the peer (xmpp-probe inspects TLS on
# one, then logs in on another).
mb_tool_connections() {
	case $1 in
	xmpp-probe) echo 2 ;;
	*) echo 1 ;;
	esac
}

# mb_expect TOOL SCENARIO: prints "CODE ERE" (ERE matched against stderr,
# or stdout for a report such as xmpp-probe's).
mb_expect() {
	local tool=$1 sc=$2 line
	if [ "$tool" = xmpp-probe ]; then
		# a Nagios plugin: critical (2) for every failure, the reason on stdout
		case $sc in
		ok) echo "0 ^XMPP OK - " ;;
		cut-after-proceed) echo "2 ^XMPP CRITICAL - TLS handshake with 127.0.0.1:[0-9]+ failed" ;;
		tls-stall) echo "2 ^XMPP CRITICAL - timed out in the TLS handshake" ;;
		trickle) echo "2 ^XMPP CRITICAL - timed out waiting for the stream header" ;;
		big-stanza:*) echo "0 ^XMPP OK - " ;;
		*)
			line=$(MB_T=${MB_T:-} mb_expect generic "$sc") || return 1
			echo "2 ^XMPP CRITICAL - .*${line#* }"
			;;
		esac
		return 0
	fi
	case $tool:$sc in
	*:ok) echo "0 ^$" ;;
	*:stream-error:system-shutdown) echo "75 ended the stream.*system-shutdown" ;;
	*:stream-error:conflict) echo "75 (ended the stream|replaced this session).*conflict" ;;
	*:stream-error:see-other-host) echo "69 ended the stream.*see-other-host" ;;
	*:stream-error:undefined-condition) echo "76 ended the stream.*undefined-condition" ;;
	*:cut-after-proceed) echo "76 TLS negotiation with 127.0.0.1:[0-9]+ failed" ;;
	*:tls-stall) echo "75 timed out after ${MB_T:-$MB_TIMEOUT} s during TLS negotiation" ;;
	*:no-bind) echo "76 no <bind/> after authentication" ;;
	*:sasl-failure:not-authorized) echo "77 authentication of alice@$XU_DOMAIN failed: not-authorized" ;;
	*:sasl-failure:temporary-auth-failure) echo "75 authentication of alice@$XU_DOMAIN failed: temporary-auth-failure" ;;
	*:big-stanza:*) echo "0 ^$" ;;
	*:invalid-xml | *:undeclared-prefix) echo "76 sent malformed XML during session" ;;
	*:sasl-stall) echo "75 timed out after ${MB_T:-$MB_TIMEOUT} s during authentication" ;;
	*:no-ack) echo "75 timed out after ${MB_T:-$MB_TIMEOUT} s( during session|: no answer)" ;;
	*:trickle) echo "75 timed out after ${MB_T:-$MB_TIMEOUT} s during stream opening" ;;
	*) return 1 ;;
	esac
}

# mb_peer SCENARIO: start the peer; sets MB_PORT, MB_REC (record prefix), MB_PEER_PID.
mb_peer() {
	local sc=$1 pf i
	MB_REC=$BATS_TEST_TMPDIR/peer-${sc//[:\/]/_}
	pf=$MB_REC.port
	rm -f "$pf" "$MB_REC".*
	: >"$MB_REC.plain"
	: >"$MB_REC.tls"
	: >"$MB_REC.events"
	"$XU_PYTHON" "$MB_DIR/peer.py" "$sc" --cert "${MB_CERT:-$XU_SERVER_CERT}" \
		--key "${MB_KEY:-$XU_TMP/certs/$XU_DOMAIN.key}" \
		--domain "$XU_DOMAIN" --record "$MB_REC" --port-file "$pf" --lifetime 90 \
		--connections "${MB_CONNECTIONS:-1}" \
		>/dev/null 2>"$MB_REC.stderr" </dev/null 3>&- &
	MB_PEER_PID=$!
	_xu_track "$MB_PEER_PID"
	for i in $(seq 1 200); do
		if [ -s "$pf" ]; then
			MB_PORT=$(cat "$pf")
			return 0
		fi
		kill -0 "$MB_PEER_PID" 2>/dev/null || break
		sleep 0.02
	done
	cat "$MB_REC.stderr" >&2
	fail "peer.py $sc did not start"
}

# The peer ends after its one connection; wait for it (bounded) so that its
# record is complete, then stop it in any case.
mb_peer_wait() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$MB_PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$MB_PEER_PID" 2>/dev/null || true
	wait "$MB_PEER_PID" 2>/dev/null || true
	printf '# peer events: %s\n' "$(tr '\n' '|' <"$MB_REC.events")"
	if [ -s "$MB_REC.stderr" ]; then
		sed 's/^/# peer stderr: /' "$MB_REC.stderr"
		grep -q Traceback "$MB_REC.stderr" && fail "peer.py crashed"
	fi
	return 0
}

# mb_run TOOL SCENARIO [TIMEOUT]: peer + tool with the standard account
# options and its job's arguments; sets status, stderr, elapsed_ms.
mb_run() {
	local tool=$1 sc=$2 timeout=${3:-$MB_TIMEOUT}
	local -a args
	mapfile -t args < <(mb_tool_args "$tool")
	[ "${#args[@]}" -gt 0 ] || fail "no arguments for $tool in mb_tool_args"
	MB_CONNECTIONS=$(mb_tool_connections "$tool") mb_peer "$sc"
	# SSL_CERT_FILE: only the suite CA, not the whole system bundle (loaded
	# twice per connection: seconds under valgrind)
	SSL_CERT_FILE=$XU_CA XMPP_PASSWORD=$MB_PASSWORD xu_run_tool "$tool" -C /dev/null -j "alice@$XU_DOMAIN" \
		--host 127.0.0.1 --port "$MB_PORT" --tls-trust-file "$XU_CA" --timeout "$timeout" "${args[@]}"
	mb_peer_wait
}

# The PLAIN token of the test account, as it would cross the wire.
mb_plain_token() {
	printf '\0alice\0%s' "$MB_PASSWORD" | base64 -w0
}

# Nothing that authenticates crossed the connection before TLS.
assert_no_credentials_in_clear() {
	local plain=$MB_REC.plain
	if grep -aq '<auth' "$plain"; then
		fail "an <auth> element was sent before TLS"
	fi
	if grep -aqF -- "$MB_PASSWORD" "$plain" || grep -aqF -- "$(mb_plain_token)" "$plain"; then
		fail "the password was sent before TLS"
	fi
}

# Before TLS, exactly a stream header without a from= (the JID stays
# private) and <starttls/> (SECURITY.md, "What crosses the network in clear").
assert_only_starttls_in_clear() {
	local plain rest
	plain=$(cat "$MB_REC.plain")
	# once per connection
	rest=$(sed -E "s#<\\?xml version=[\"']1.0[\"']\\?><stream:stream [^>]*><starttls xmlns=[\"']urn:ietf:params:xml:ns:xmpp-tls[\"']/>##g" <<<"$plain")
	[ -n "$plain" ] && [ -z "$rest" ] || fail "sent before TLS: $plain"
	[[ "$plain" != *from=* && "$plain" != *alice* ]] || fail "the JID was sent before TLS: $plain"
}

# The run ended within its deadline: --timeout + MB_SLACK seconds.
assert_within_deadline() {
	local timeout=${1:-$MB_TIMEOUT} limit
	limit=$(awk -v t="$timeout" -v s="$MB_SLACK" 'BEGIN { printf "%d", (t + s) * 1000 }')
	if [ "$elapsed_ms" -gt "$limit" ]; then
		fail "took ${elapsed_ms} ms; the deadline was ${timeout} s (+${MB_SLACK} s slack)"
	fi
}

# mb_did_job TOOL SCENARIO: the positive control of a case that succeeds:
# the tool did its one job (what a user would check), not merely exit 0.
mb_did_job() {
	local tool=$1 sc=$2
	case $tool in
	xmpp-send)
		grep -aEq "<message [^>]*to=[\"']bob@$XU_DOMAIN[\"'][^>]*>.*<body>hello</body>" "$MB_REC.tls" ||
			fail "$tool, $sc: the peer did not receive the message"
		;;
	xmpp-bind)
		grep -Eq "<iq [^>]*id=[\"']mb1[\"']" <<<"$output" && grep -Eq "type=[\"']result[\"']" <<<"$output" ||
			fail "$tool, $sc: the ping's result is not on stdout"
		;;
	xmpp-listen)
		case $sc in
		big-stanza:*) [ "${#output}" -ge "${sc#*:}" ] || fail "$tool, $sc: the big message is not on stdout (${#output} bytes)" ;;
		*) grep -q 'hello from the peer' <<<"$output" || fail "$tool, $sc: the peer's message is not on stdout" ;;
		esac
		;;
	xmpp-probe) grep -Eq '^XMPP OK - ' <<<"$output" || fail "$tool, $sc: no 'XMPP OK' on stdout" ;;
	*) fail "no positive control for $tool in mb_did_job" ;;
	esac
}

# mb_case [--quick] [--min MS] [--check FN] SCENARIO [TIMEOUT]: every tool in MB_TOOLS
# against SCENARIO, each checked on its own: the exit code and message of
# mb_expect (an expected message of "^$" means stderr must be empty), the
# positive control (mb_did_job) when the case succeeds, no credentials in
# clear, in time. --quick: each tool ends well before the deadline
# (assert_quick); --min MS: none ends before MS milliseconds (a deadline
# that is not cut short); --check FN: FN TOOL runs after each tool's run.
mb_case() {
	local quick=0 min=0 check=""
	while [ $# -gt 0 ]; do
		case $1 in
		--quick) quick=1 ;;
		--check) check=$2; shift ;;
		--min) min=$2; shift ;;
		*) break ;;
		esac
		shift
	done
	local sc=$1 timeout=${2:-$MB_TIMEOUT} tool exp code ere ran=0
	for tool in $MB_TOOLS; do
		[ -x "$XU_BIN/$tool" ] || continue
		mb_tool_args "$tool" >/dev/null || continue
		exp=$(MB_T=$timeout mb_expect "$tool" "$sc") || fail "no expectation for $tool in scenario $sc"
		code=${exp%% *}
		ere=${exp#* }
		mb_run "$tool" "$sc" "$timeout"
		[ "$status" = "$code" ] || fail "$tool, $sc: expected exit status $code, got $status"
		if [ "$ere" = '^$' ]; then
			[ -z "$stderr" ] || fail "$tool, $sc: expected nothing on stderr, got: $stderr"
		else
			grep -Eq -- "$ere" <<<"$stderr" || grep -Eq -- "$ere" <<<"$output" ||
				fail "$tool, $sc: neither stderr nor stdout matches /$ere/"
		fi
		[ "$code" != 0 ] || mb_did_job "$tool" "$sc"
		assert_no_credentials_in_clear
		assert_within_deadline "$timeout"
		if [ "$quick" = 1 ]; then
			[ "$elapsed_ms" -lt "$MB_QUICK_MS" ] || fail "$tool, $sc: took $elapsed_ms ms (more than $MB_QUICK_MS)"
		fi
		if [ "$min" -gt 0 ]; then
			[ "$elapsed_ms" -ge "$min" ] || fail "$tool, $sc: ended after $elapsed_ms ms, before the deadline (${min} ms)"
		fi
		[ -z "$check" ] || "$check" "$tool"
		ran=$((ran + 1))
	done
	[ "$ran" -gt 0 ] || fail "no tool to test (MB_TOOLS=$MB_TOOLS)"
}
