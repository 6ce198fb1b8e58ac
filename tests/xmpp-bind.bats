#!/usr/bin/env bats
# xmpp-bind against the suite's throwaway Prosody (tests/helpers/prosody.bash):
# binding, the --stdio bridge, --iq, component sessions. What arrives is checked
# on the other side (receiver.py, or another xmpp-bind), failures by exit
# status, message and the --trace transcript. Bind refusals a real server does
# not produce on demand come from tests/bin/fakebind.py.

load helpers/common

setup() {
	xu_require_tool xmpp-bind
}

teardown() {
	xu_common_teardown
}

xbind() {
	xu_run_tool xmpp-bind "$@"
}

# The component's secret in a private file; prints its path.
secret_file() {
	local f=$BATS_TEST_TMPDIR/component.secret
	printf '%s\n' "${1:-$XU_COMPONENT_SECRET}" >"$f"
	chmod 600 "$f"
	echo "$f"
}

# Arguments for a component session to the suite's component port.
component_args() {
	echo "--component $XU_COMPONENT --host 127.0.0.1 --port $XU_COMPONENT_PORT --secret-file $(secret_file "$@")"
}

# start_bridge NAME ARGS...: xmpp-bind -v ARGS in the background, standard
# input from a FIFO held open until bridge_eof NAME; stdout/stderr in
# $BATS_TEST_TMPDIR/NAME.out/.err. Waits (bounded) until it says it is bound.
start_bridge() {
	local name=$1 d=$BATS_TEST_TMPDIR i pid wpid
	shift
	local -a wrap=()
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
	fi
	rm -f "$d/$name.in"
	mkfifo "$d/$name.in"
	# the writer that keeps standard input open
	sleep 120 >"$d/$name.in" 3>&- &
	wpid=$!
	_xu_track "$wpid"
	"${wrap[@]}" "$XU_BIN/xmpp-bind" -v "$@" <"$d/$name.in" >"$d/$name.out" 2>"$d/$name.err" 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "BRIDGE_PID_$name=$pid BRIDGE_WRITER_$name=$wpid"
	for i in $(seq 1 300); do
		grep -q 'bound as' "$d/$name.err" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# bridge stderr: /' "$d/$name.err"
	fail "bridge $name ($*) did not get bound"
}

# bridge_send NAME XML: one line to the bridge's standard input.
bridge_send() {
	printf '%s\n' "$2" >"$BATS_TEST_TMPDIR/$1.in"
}

# bridge_eof NAME: close the bridge's standard input.
bridge_eof() {
	local wpid
	wpid=$(eval "echo \$BRIDGE_WRITER_$1")
	kill "$wpid" 2>/dev/null || true
}

# wait_bridge NAME [SECONDS]: wait (bounded) for the bridge to end; sets
# bstatus, bout, berr. Fails on a sanitizer or valgrind report.
wait_bridge() {
	local name=$1 max=${2:-30} pid i
	pid=$(eval "echo \$BRIDGE_PID_$name")
	for i in $(seq 1 $((max * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "bridge $name still running after ${max}s"
	fi
	bstatus=0
	wait "$pid" || bstatus=$?
	bout=$(cat "$BATS_TEST_TMPDIR/$name.out")
	berr=$(cat "$BATS_TEST_TMPDIR/$name.err")
	printf '# bridge %s -> status %s\n' "$name" "$bstatus"
	[ -z "$bout" ] || printf '# %s stdout: %s\n' "$name" "${bout//$'\n'/$'\n# '"$name"' stdout: '}"
	[ -z "$berr" ] || printf '# %s stderr: %s\n' "$name" "${berr//$'\n'/$'\n# '"$name"' stderr: '}"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|^==[0-9]+== ' <<<"$berr"; then
		fail "bridge $name: sanitizer/valgrind report on stderr"
	fi
}

# wait_line FILE ERE [SECONDS]: bounded wait until FILE has a line matching ERE.
wait_line() {
	local i
	for i in $(seq 1 $((${3:-15} * 20))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	sed 's/^/# /' "$1" 2>/dev/null
	fail "no line matching /$2/ in $1"
}

# attr NAME: the value of attribute NAME of the first element on stdin's first line.
attr() {
	head -n 1 | sed -n "s/^<[^>]* $1=\"\\([^\"]*\\)\".*/\\1/p"
}

# ---------------------------------------------------------------- usage, docs

@test "--help lists the modes; every long option is in the man page and the completions" {
	xbind --help
	assert_status 0
	[[ "$output" =~ [Uu]sage:.*xmpp-bind ]] || fail "no usage line"
	local root opts o missing=""
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
	[ "$(wc -l <<<"$opts")" -ge 20 ] || fail "too few options found in --help"
	for o in $opts; do
		grep -q -- "Fl -${o#--}\b" "$root/man/xmpp-bind.1" || missing="$missing man:$o"
		grep -q -- "$o\b" "$root/completions/bash/xmpp-bind" || missing="$missing bash:$o"
		grep -q -- "$o\b" "$root/completions/zsh/_xmpp-bind" || missing="$missing zsh:$o"
		grep -q -- "-l ${o#--}\b" "$root/completions/fish/xmpp-bind.fish" || missing="$missing fish:$o"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
}

@test "usage errors exit 64" {
	local -a cases=(
		"--stdio --iq"
		"--stdio --query <iq/>"
		"--presence"
		"--iq --presence"
		"extra-operand"
		"--timeout -1"
		"--timeout 0.01"
	)
	local c bad=""
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # split on purpose
		xbind -a alice $c </dev/null
		[ "$status" = 64 ] || bad="$bad
  xmpp-bind $c -> $status (want 64)"
		[ -n "$stderr" ] || bad="$bad
  xmpp-bind $c -> no message"
	done
	xbind $(component_args) --stdio --presence </dev/null
	[ "$status" = 64 ] || bad="$bad
  --component --presence -> $status (want 64)"
	[ -z "$bad" ] || fail "usage errors:$bad"
}

# ---------------------------------------------------------------- binding

@test "-r RES prints user@host/RES, exit 0; the stream is closed cleanly" {
	xbind -a alice -r balcony --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 0
	[ "$output" = "alice@$XU_DOMAIN/balcony" ] || fail "printed '$output'"
	grep -q '^C: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "no </stream:stream> sent"
	grep -q '^S: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "the server did not close its side"
}

@test "without -r the server chooses the resource (a different one each time)" {
	xbind -a bob
	assert_status 0
	[[ "$output" =~ ^bob@xu\.test/[^/[:space:]]+$ ]] || fail "printed '$output'"
	local first=$output
	xbind -a bob
	assert_status 0
	[[ "$output" =~ ^bob@xu\.test/.+$ ]] || fail "printed '$output'"
	[ "$output" != "$first" ] || fail "the same resource twice: $output"
	[ -z "$stderr" ] || fail "unexpected stderr"
}

@test "the resource in the JID (-j user@host/RES) is asked for too" {
	XMPP_PASSWORD=$XU_CAROL_PASSWORD xbind -C /dev/null --host 127.0.0.1 --port "$XU_C2S_PORT" \
		--tls-trust-file "$XU_CA" -j "carol@$XU_DOMAIN/kitchen"
	assert_status 0
	[ "$output" = "carol@$XU_DOMAIN/kitchen" ] || fail "printed '$output'"
}

@test "same resource bound twice at once: Prosody replaces the older session, which says so (75)" {
	start_bridge older -a dave -r twice --stdio --timeout 0
	xbind -a dave -r twice
	assert_status 0
	[ "$output" = "dave@$XU_DOMAIN/twice" ] || fail "the newer session printed '$output'"
	wait_bridge older
	[ "$bstatus" = 75 ] || fail "older session: exit $bstatus, want 75"
	grep -Eqi 'replaced this session.*another login bound the same resource.*conflict' <<<"$berr" ||
		fail "the older session's message does not say it was replaced"
}

@test "a resource the server does not accept: its choice is printed, with a warning" {
	# U+E000 (private use) is forbidden by resourceprep; Prosody picks another
	xu_needs_server prosody "refuses the resource (bad-request), as RFC 6120 7.7.2.1 allows"
	xbind -a alice -r $'bad\xee\x80\x80res'
	assert_status 0
	[[ "$output" =~ ^alice@xu\.test/.+$ ]] || fail "printed '$output'"
	[[ "$output" != *bad* ]] || fail "the refused resource was printed: $output"
	assert_stderr_matches "asked for resource .*the server bound '${output#*/}'"
}

start_fakebind() {
	local pf=$BATS_TEST_TMPDIR/fakebind.port pid i
	rm -f "$pf"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/fakebind.py" "$1" --port-file "$pf" >/dev/null 2>&1 </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 100); do
		[ -s "$pf" ] && FAKE_PORT=$(cat "$pf") && return 0
		sleep 0.05
	done
	fail "fakebind.py did not start"
}

@test "bind refused: conflict 75, not-allowed 77, bad-request 65, each with a clear message" {
	local cond want re bad=""
	for cond in conflict:75:'conflict.*resource .desk. is in use' \
		not-allowed:77:'not-allowed.*may not bind resource .desk.' \
		bad-request:65:'bad-request.*does not accept resource .desk.'; do
		want=${cond#*:}
		re=${want#*:}
		want=${want%%:*}
		cond=${cond%%:*}
		start_fakebind "$cond"
		xbind -a alice --host 127.0.0.1 --port "$FAKE_PORT" --tls off -r desk
		[ "$status" = "$want" ] || bad="$bad
  $cond: exit $status, want $want"
		grep -Eqi -- "$re" <<<"$stderr" || bad="$bad
  $cond: message does not match /$re/"
		[ -z "$output" ] || bad="$bad
  $cond: printed '$output' although nothing was bound"
	done
	[ -z "$bad" ] || fail "bind refusals:$bad"
}

@test "legacy session establishment is done when the server requires it, not when optional" {
	start_fakebind session
	xbind -a alice --host 127.0.0.1 --port "$FAKE_PORT" --tls off -r desk --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 0
	[ "$output" = "user@$XU_DOMAIN/desk" ] || fail "printed '$output'"
	grep -q '^C: <iq [^>]*type="set"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"' "$BATS_TEST_TMPDIR/trace" ||
		fail "no session request sent"
	start_fakebind session-optional
	xbind -a alice --host 127.0.0.1 --port "$FAKE_PORT" --tls off -r desk --trace "$BATS_TEST_TMPDIR/trace2"
	assert_status 0
	grep -q '^C: .*xmpp-bind' "$BATS_TEST_TMPDIR/trace2" || fail "no bind in the second trace: the check below would prove nothing"
	! grep -q '^C: .*xmpp-session' "$BATS_TEST_TMPDIR/trace2" || fail "a session request although it is optional"
}

# ---------------------------------------------------------------- --iq

@test "--iq: roster get from standard input prints the result, exit 0" {
	xbind -a alice --iq <<<'<iq type="get"><query xmlns="jabber:iq:roster"/></iq>'
	assert_status 0
	[ "${#lines[@]}" = 1 ] || fail "expected one line of output"
	[[ "$output" == '<iq '* && "$output" == *'type="result"'* && "$output" == *'jabber:iq:roster'* ]] ||
		fail "not a roster result: $output"
	[[ "$output" == *'xmlns="jabber:client"'* ]] || fail "the line does not carry its namespace"
	xmllint --noout - <<<"$output" || fail "not well-formed"
}

@test "--iq: an unknown namespace exits 1 with the condition on stderr, the answer on stdout" {
	xbind -a alice --query "<iq type='get' to='$XU_DOMAIN'><query xmlns='urn:example:nothing-here'/></iq>"
	assert_status 1
	assert_stderr_matches 'service-unavailable|feature-not-implemented'
	assert_stderr_matches "from $XU_DOMAIN"
	[[ "$output" == *'type="error"'* ]] || fail "the error answer is not on stdout"
}

@test "--iq: the id is kept when given, made up when missing" {
	xbind -a alice --query "<iq type='get' id='my-id-1' to='$XU_DOMAIN'><ping xmlns='urn:xmpp:ping'/></iq>"
	assert_status 0
	[ "$(attr id <<<"$output")" = my-id-1 ] || fail "id not kept: $output"
	xbind -a alice --query "<iq type='get' to='$XU_DOMAIN'><ping xmlns='urn:xmpp:ping'/></iq>"
	assert_status 0
	[ -n "$(attr id <<<"$output")" ] || fail "no id: $output"
}

@test "--iq: bad requests exit 65 before connecting (no server on the port)" {
	start_sink closed
	local -a inputs=(
		'<iq type="get"><query xmlns="jabber:iq:roster"/>'
		'<message to="bob@xu.test"><body>x</body></message>'
		'<iq type="result" id="a"/>'
		'<iq type="get"><ping xmlns="urn:xmpp:ping"/></iq><iq type="get"><ping xmlns="urn:xmpp:ping"/></iq>'
		''
		'not xml at all'
	)
	local i bad=""
	for i in "${inputs[@]}"; do
		xbind -a alice --port "$SINK_PORT" --iq <<<"$i"
		[ "$status" = 65 ] || bad="$bad
  '$i' -> $status (want 65)"
	done
	xbind -a alice --port "$SINK_PORT" --query '<iq type="get"><a></b></iq>'
	[ "$status" = 65 ] || bad="$bad
  --query with mismatched tags -> $status (want 65)"
	assert_stderr_matches '--query: malformed XML at line 1, column [0-9]+'
	[ -z "$bad" ] || fail "bad requests:$bad"
}

@test "--iq: no answer within --timeout exits 75 (request to a component that does not answer)" {
	xu_skip_under_valgrind "logging in alone takes longer than the 3 s deadline"
	start_bridge comp $(component_args) --stdio --timeout 0
	xbind -a alice --timeout 3 --query "<iq type='get' to='$XU_COMPONENT'><query xmlns='urn:example:silence'/></iq>"
	assert_status 75
	assert_stderr_matches "timed out after 3 s.*no answer from $XU_COMPONENT"
	[ "$elapsed_ms" -lt 10000 ] || fail "took ${elapsed_ms} ms"
	# the bridge passed the request through instead of answering it
	wait_line "$BATS_TEST_TMPDIR/comp.out" 'urn:example:silence'
	grep -q 'type="get"' "$BATS_TEST_TMPDIR/comp.out" || fail "the iq get is not on the bridge's stdout"
	bridge_eof comp
	wait_bridge comp
	[ "$bstatus" = 0 ] || fail "component bridge exit $bstatus"
}

@test "--iq: an answer with the right id from another sender is ignored" {
	start_bridge comp $(component_args) --stdio --timeout 0
	start_bridge asker -a alice --timeout 20 \
		--query "<iq type='get' id='q-1' to='$XU_COMPONENT'><query xmlns='urn:example:who'/></iq>"
	wait_line "$BATS_TEST_TMPDIR/comp.out" 'urn:example:who'
	local from
	from=$(grep 'urn:example:who' "$BATS_TEST_TMPDIR/comp.out" | attr from)
	bridge_send comp "<iq type='result' id='q-1' to='$from' from='impostor@$XU_COMPONENT'><query xmlns='urn:example:who'><n>impostor</n></query></iq>"
	bridge_send comp "<iq type='result' id='q-1' to='$from' from='$XU_COMPONENT'><query xmlns='urn:example:who'><n>real</n></query></iq>"
	wait_bridge asker
	[ "$bstatus" = 0 ] || fail "exit $bstatus"
	[[ "$bout" == *'<n>real</n>'* && "$bout" != *impostor* ]] || fail "printed the wrong answer: $bout"
	bridge_eof comp
	wait_bridge comp
}

# ---------------------------------------------------------------- --stdio

@test "--stdio: disco#info to the server is answered, a message reaches another account" {
	start_receiver bob bob --count 1
	printf '%s\n' \
		"<iq type='get' id='disco-1' to='$XU_DOMAIN'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" \
		"<message to='bob@$XU_DOMAIN' type='chat'><body>bridged hello</body></message>" \
		>"$BATS_TEST_TMPDIR/in.xml"
	xbind -a alice --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "bridged hello" and (.[0].from | startswith("alice@xu.test/")) and .[0].id != null'
	grep -q 'id="disco-1"' <<<"$output" || fail "no answer to disco-1 on stdout"
	local answer
	answer=$(grep 'id="disco-1"' <<<"$output")
	[[ "$answer" == *'type="result"'* && "$answer" == *'disco#info'* && "$answer" == *'<identity'* ]] ||
		fail "not a disco#info result: $answer"
	# one stanza per line, each well-formed on its own
	while IFS= read -r l; do
		xmllint --noout - <<<"$l" || fail "not well-formed: $l"
	done <<<"$output"
}

@test "--stdio: pretty-printed multi-line input; iqs without id get one and are answered" {
	cat >"$BATS_TEST_TMPDIR/in.xml" <<-EOF
		<iq type="get"
		    to="$XU_DOMAIN">
		  <ping xmlns="urn:xmpp:ping"/>
		</iq>

		<iq type="get">
		  <query xmlns="jabber:iq:roster"/>
		</iq>
	EOF
	xbind -a alice --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 0
	[ "$(grep -c 'type="result"' <<<"$output")" = 2 ] || fail "expected two results"
	grep -q 'jabber:iq:roster' <<<"$output" || fail "no roster result"
	local id
	for id in $(grep -o ' id="[^"]*"' <<<"$output" | cut -d'"' -f2); do
		[ -n "$id" ] || fail "an empty id"
	done
}

@test "--stdio: 2000 iq requests in one batch: every one answered, one line each, in under 20 s" {
	local i
	for i in $(seq 1 2000); do
		printf '<iq type="get" id="b%d" to="%s"><ping xmlns="urn:xmpp:ping"/></iq>\n' "$i" "$XU_DOMAIN"
	done >"$BATS_TEST_TMPDIR/in.xml"
	xbind -a alice --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 0
	[ "${#lines[@]}" = 2000 ] || fail "${#lines[@]} lines, want 2000"
	[ "$(grep -o ' id="b[0-9]*"' <<<"$output" | sort -u | wc -l)" = 2000 ] || fail "not 2000 distinct answers"
	[ "$(grep -c 'type="result"' <<<"$output")" = 2000 ] || fail "not all results"
	[ "$elapsed_ms" -lt 20000 ] || fail "took ${elapsed_ms} ms"
}

@test "--stdio: at end of input it waits for outstanding iq answers (answered late by a component bridge)" {
	start_bridge comp $(component_args) --stdio --timeout 0
	start_bridge alice -a alice --stdio --timeout 30
	bridge_send alice "<iq type='get' id='late-1' to='$XU_COMPONENT'><query xmlns='urn:example:late'/></iq>"
	bridge_eof alice
	# the component sees the request and answers it a while later
	wait_line "$BATS_TEST_TMPDIR/comp.out" 'urn:example:late'
	local req from
	req=$(grep 'urn:example:late' "$BATS_TEST_TMPDIR/comp.out")
	from=$(attr from <<<"$req")
	[[ "$from" == alice@xu.test/* ]] || fail "request from '$from'"
	sleep 1
	bridge_send comp "<iq type='result' id='late-1' to='$from' from='$XU_COMPONENT'><query xmlns='urn:example:late'><answer>42</answer></query></iq>"
	wait_bridge alice
	[ "$bstatus" = 0 ] || fail "alice's bridge exit $bstatus"
	grep -q 'id="late-1".*<answer>42</answer>' <<<"$bout" || fail "the late answer is not on stdout"
	bridge_eof comp
	wait_bridge comp
	[ "$bstatus" = 0 ] || fail "component bridge exit $bstatus"
}

@test "--stdio --presence: messages to the bare JID arrive, incoming stanzas are printed" {
	start_bridge carol -a carol --stdio --presence --timeout 30
	# our own presence comes back from the server: we are available
	wait_line "$BATS_TEST_TMPDIR/carol.out" '^<presence '
	xsend_out=$(XMPP_PASSWORD=$XU_BOB_PASSWORD "$XU_BIN/xmpp-send" -a bob -m 'to the bare jid' "carol@$XU_DOMAIN" 2>&1) ||
		fail "xmpp-send failed: $xsend_out"
	wait_line "$BATS_TEST_TMPDIR/carol.out" '^<message .*to the bare jid'
	bridge_eof carol
	wait_bridge carol
	[ "$bstatus" = 0 ] || fail "exit $bstatus"
	grep '^<message ' <<<"$bout" | grep -q 'from="bob@xu.test/' || fail "message without bob's full JID"
}

@test "--stdio: malformed input exits 65 with its position; what came before was sent; the stream is closed" {
	start_receiver bob bob --count 1
	printf '%s\n' \
		"<message to='bob@$XU_DOMAIN'><body>before the error</body></message>" \
		"<message to='bob@$XU_DOMAIN'><body>broken</bodyy></message>" \
		"<message to='bob@$XU_DOMAIN'><body>after the error</body></message>" \
		>"$BATS_TEST_TMPDIR/in.xml"
	xbind -a alice --stdio --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 65
	assert_stderr_matches 'line 2, column [0-9]+'
	wait_receiver bob
	assert_recv bob '.[0].body == "before the error"'
	! grep -q 'after the error\|broken' "$BATS_TEST_TMPDIR/trace" || fail "something after the error was sent"
	grep -q '^C: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "no </stream:stream> sent"
	grep -q '^S: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "the server did not close its side"
}

@test "--stdio: input ending inside a stanza, and an iq without a type, exit 65" {
	printf '<message to="bob@xu.test"><body>cut' >"$BATS_TEST_TMPDIR/in.xml"
	xbind -a alice --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 65
	assert_stderr_matches 'ended inside the <message> stanza that starts at line 1'
	printf '<iq type="get" to="%s"><ping xmlns="urn:xmpp:ping"/></iq>\n<iq to="%s"><ping xmlns="urn:xmpp:ping"/></iq>\n' \
		"$XU_DOMAIN" "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in.xml"
	xbind -a alice --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 65
	assert_stderr_matches 'line 2: an <iq> needs type get, set, result or error'
	# the first one was still answered
	[ "$(grep -c 'type="result"' <<<"$output")" = 1 ] || fail "the valid iq before was not answered"
}

@test "--stdio: standard input still open at --timeout exits 75; --timeout 0 has no deadline" {
	xu_skip_under_valgrind "logging in alone takes longer than the 2 s deadline"
	mkfifo "$BATS_TEST_TMPDIR/open.in"
	sleep 30 >"$BATS_TEST_TMPDIR/open.in" 3>&- &
	_xu_track $!
	xbind -a alice --stdio --timeout 2 <"$BATS_TEST_TMPDIR/open.in"
	assert_status 75
	assert_stderr_matches 'timed out after 2 s with standard input still open'
	[ "$elapsed_ms" -lt 8000 ] || fail "took ${elapsed_ms} ms"

	start_bridge forever -a alice --stdio --timeout 0
	sleep 3 # longer than the 2 s above
	kill -0 "$BRIDGE_PID_forever" || fail "the --timeout 0 bridge ended by itself"
	bridge_send forever "<iq type='get' id='still-1' to='$XU_DOMAIN'><ping xmlns='urn:xmpp:ping'/></iq>"
	wait_line "$BATS_TEST_TMPDIR/forever.out" 'id="still-1"'
	bridge_eof forever
	wait_bridge forever
	[ "$bstatus" = 0 ] || fail "exit $bstatus"
}

@test "--stdio: SIGTERM closes the stream cleanly (exit 143)" {
	start_bridge term -a alice --stdio --timeout 0 --trace "$BATS_TEST_TMPDIR/trace"
	kill -TERM "$BRIDGE_PID_term"
	wait_bridge term
	[ "$bstatus" = 143 ] || fail "exit $bstatus, want 143"
	grep -q '^C: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "no </stream:stream> sent"
}

# ---------------------------------------------------------------- components

@test "component: the right secret connects and prints the component domain" {
	# shellcheck disable=SC2046
	xbind $(component_args)
	assert_status 0
	[ "$output" = "$XU_COMPONENT" ] || fail "printed '$output'"
}

@test "component: a wrong secret exits 77" {
	# shellcheck disable=SC2046
	xbind $(component_args "not-the-secret")
	assert_status 77
	assert_stderr_matches 'not-authorized'
}

@test "component --stdio: messages from the component reach a user (from set, or filled in)" {
	start_receiver bob bob --count 2
	printf '%s\n' \
		"<message from='bot@$XU_COMPONENT' to='bob@$XU_DOMAIN' type='chat'><body>from the bot</body></message>" \
		"<message to='bob@$XU_DOMAIN'><body>from the component itself</body></message>" \
		>"$BATS_TEST_TMPDIR/in.xml"
	# shellcheck disable=SC2046
	xbind $(component_args) --stdio <"$BATS_TEST_TMPDIR/in.xml"
	assert_status 0
	wait_receiver bob
	assert_recv bob 'map(select(.body == "from the bot"))[0].from == "bot@component.xu.test"'
	assert_recv bob 'map(select(.body == "from the component itself"))[0].from == "component.xu.test"'
}

# ---------------------------------------------------------------- --trace

@test "--trace: client login with SASL payloads and the password redacted" {
	xbind -a alice --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 0
	local t=$BATS_TEST_TMPDIR/trace
	grep -q '^C: <auth [^>]*>\[redacted\]</auth>' "$t" || fail "no redacted <auth> in the trace"
	grep -q '^C: <response[^>]*>\[redacted\]</response>' "$t" || fail "no redacted <response> in the trace"
	! grep -qF "$XU_ALICE_PASSWORD" "$t" || fail "password in the trace"
	! grep -Eq '<(auth|response|challenge|success)( [^>]*)?>[A-Za-z0-9+/]{16,}=*</' "$t" ||
		fail "an unredacted SASL payload in the trace"
	grep -q '^S: .*xmpp-bind' "$t" || fail "the bind exchange is not in the trace"
}

@test "--trace -vv: the component handshake digest and the secret are redacted" {
	# shellcheck disable=SC2046
	xbind $(component_args) -vv --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 0
	local t=$BATS_TEST_TMPDIR/trace sid digest
	grep -q "^C: <handshake[^>]*>\[redacted\]</handshake>" "$t" || fail "no redacted handshake"
	sid=$(grep -o '^S: <stream:stream [^>]*' "$t" | head -n 1 | sed -n 's/.* id="\([^"]*\)".*/\1/p')
	[ -n "$sid" ] || fail "no stream id in the trace"
	digest=$(printf '%s%s' "$sid" "$XU_COMPONENT_SECRET" | sha1sum | cut -d' ' -f1)
	grep -q '^C: ' "$t" || fail "no C: lines in the trace"
	! grep -qi "$digest" "$t" || fail "the handshake digest is in the trace"
	! grep -qi "$digest" <<<"$stderr" || fail "the handshake digest is on stderr"
	! grep -qF "$XU_COMPONENT_SECRET" "$t" || fail "the secret is in the trace"
}
