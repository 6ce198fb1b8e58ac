#!/usr/bin/env bats
# xmpp-listen against the suite's throwaway Prosody (tests/helpers/prosody.bash).
# What it prints is checked with the tools its users pipe it into (jq, xmllint,
# a shell read loop); what it answers and how it leaves, from the other side
# (tests/bin/listen-peer.py, a slixmpp client) and from the Prosody log.
#
# Accounts here: bob listens, alice and carol send, dave listens in rooms and
# for stored messages. Other suites leave messages stored for bob, so every
# test marks its messages with a unique token and looks for that.

load helpers/common

PEER=$XU_TESTS_DIR/bin/listen-peer.py

setup() {
	xu_require_tool xmpp-listen
	xu_require_tool xmpp-send
	TOKEN="t$(_xu_rand 4)"
	STOPPED_PROSODY=""
}

teardown() {
	if [ -n "$STOPPED_PROSODY" ]; then
		kill -CONT "$STOPPED_PROSODY" 2>/dev/null || true
	fi
	xu_common_teardown
}

# ---------------------------------------------------------------- helpers

# xlisten ARGS...: xmpp-listen in the foreground (status, output, stderr, elapsed_ms).
xlisten() {
	xu_run_tool xmpp-listen "$@"
}

_wrap() {
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		echo valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	fi
}

# start_listen NAME ARGS...: xmpp-listen -v ARGS in the background, stdout in
# $BATS_TEST_TMPDIR/NAME.out, stderr in NAME.err; returns once it says it is
# listening (online, presence processed by the server, rooms joined).
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

listen_pid() {
	eval "echo \$LISTEN_PID_$1"
}

# The full JID it is online as (from its -v line).
listen_jid() {
	sed -n 's/^xmpp-listen: online as \(.*\); listening$/\1/p' "$BATS_TEST_TMPDIR/$1.err" | tail -n 1
}

# wait_listen NAME [SECONDS]: wait (bounded) for it to end by itself; sets lstatus.
wait_listen() {
	local name=$1 max=${2:-20} pid i
	pid=$(listen_pid "$name")
	for i in $(seq 1 $((max * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
		fail "xmpp-listen $name did not end within $max s"
	fi
	lstatus=0
	wait "$pid" || lstatus=$?
	printf '# xmpp-listen %s exited %s\n' "$name" "$lstatus"
	sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out" | head -n 20
	sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|^==[0-9]+== ' \
		"$BATS_TEST_TMPDIR/$name.err"; then
		fail "xmpp-listen $name: sanitizer/valgrind report on stderr"
	fi
}

# stop_listen NAME [SIGNAL]: signal it (TERM) and wait; sets lstatus.
stop_listen() {
	kill -"${2:-TERM}" "$(listen_pid "$1")" 2>/dev/null || true
	wait_listen "$1" 10
}

# wait_output NAME ERE [N] [SECONDS]: until N lines (default 1) of NAME.out match.
wait_output() {
	local name=$1 re=$2 n=${3:-1} max=${4:-20} i
	for i in $(seq 1 $((max * 20))); do
		[ "$(grep -Ec -- "$re" "$BATS_TEST_TMPDIR/$name.out")" -ge "$n" ] && return 0
		sleep 0.05
	done
	sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out" | tail -n 20
	sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
	fail "xmpp-listen $name: fewer than $n lines matching /$re/ within $max s"
}

# wait_stderr NAME ERE [SECONDS]
wait_stderr() {
	local name=$1 re=$2 max=${3:-20} i
	for i in $(seq 1 $((max * 20))); do
		grep -Eq -- "$re" "$BATS_TEST_TMPDIR/$name.err" && return 0
		sleep 0.05
	done
	sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
	fail "xmpp-listen $name: no /$re/ on stderr within $max s"
}

# send_as USER BODY TO [xmpp-send options...]
send_as() {
	local user=$1 body=$2 to=$3
	shift 3
	xsend -a "$user" "$@" -m "$body" "$to"
	assert_status 0
}

# peer NAME USER ARGS...: tests/bin/listen-peer.py in the background as USER.
peer() {
	local name=$1 user=$2 pid
	shift 2
	XU_PEER_PASSWORD=$(xu_password "$user") "$XU_PYTHON" "$PEER" "$@" --jid "$user@$XU_DOMAIN" \
		>"$BATS_TEST_TMPDIR/$name.peer" 2>"$BATS_TEST_TMPDIR/$name.peererr" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "PEER_PID_$name=$pid"
}

# peer_wait NAME: wait for it; fails unless it exited 0.
peer_wait() {
	local pid rc=0
	pid=$(eval "echo \$PEER_PID_$1")
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		sed 's/^/# peer: /' "$BATS_TEST_TMPDIR/$1.peer" "$BATS_TEST_TMPDIR/$1.peererr"
		fail "listen-peer $1 exited $rc"
	fi
}

# wait_file FILE [SECONDS]
wait_file() {
	local i
	for i in $(seq 1 $((${2:-20} * 20))); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 did not appear"
}

is_sanitizer_build() {
	grep -q __asan_init "$XU_BIN/xmpp-listen" 2>/dev/null
}

# each_format_once BODY: one listener per format (NAME = the format) waiting
# for the message with $TOKEN; alice sends BODY; each must print exactly one
# line and exit 0.
each_format_once() {
	local f
	for f in xml json text body; do
		start_listen "$f" -a bob --format "$f" --from "alice@$XU_DOMAIN" \
			--xpath "/message[contains(body, '$TOKEN')]" -n 1
	done
	send_as alice "$1" "bob@$XU_DOMAIN"
	for f in xml json text body; do
		wait_listen "$f"
		[ "$lstatus" = 0 ] || fail "--format $f exited $lstatus"
		[ "$(wc -l <"$BATS_TEST_TMPDIR/$f.out")" = 1 ] || fail "--format $f: the stanza is not exactly one line"
	done
}

# ---------------------------------------------------------------- usage

@test "--help lists the options and exits 0; -V prints the version" {
	xlisten --help
	assert_status 0
	[[ "$output" == *"Usage: xmpp-listen"* ]] || fail "no usage line"
	local o
	for o in --format --body --count --idle --kind --type --from --xpath --room --history \
		--own --presence --status --no-presence --reconnect --keepalive --timeout; do
		[[ "$output" == *"$o"* ]] || fail "--help does not mention $o"
	done
	xlisten -V
	assert_status 0
	[[ "$output" =~ ^xmpp-listen\ .*[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "no version"
}

@test "usage errors exit 64 before connecting: bad values, invalid XPath, operands" {
	local -a cases=(
		"--no-such-option"
		"--format yaml"
		"--count 0"
		"--count many"
		"--idle soon"
		"--kind mesage"
		"--type chat,bogus"
		"--from not@valid@jid"
		"--xpath /message["
		"--xpath /foo:message"
		"--xpath nosuchfunction()"
		"--xpath \$undefined"
		"--room not-a-room"
		"--room room@conference.xu.test/"
		"--history -1"
		"--presence asleep"
		"--keepalive 0.2"
		"--no-presence --status away"
		"--room-password-file /dev/null"
		"unexpected-operand"
	)
	local c bad=""
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # split on purpose
		xlisten -a bob $c
		[ "$status" = 64 ] || bad="$bad
  xmpp-listen $c -> $status (want 64)"
		[ -n "$stderr" ] || bad="$bad
  xmpp-listen $c -> no message on stderr"
		[ "$elapsed_ms" -lt 3000 ] || bad="$bad
  xmpp-listen $c -> took $elapsed_ms ms (connected?)"
	done
	[ -z "$bad" ] || fail "usage errors:$bad"
	xlisten -a bob --xpath '/message['
	assert_stderr_matches "invalid XPath expression '/message\[':"
}

@test "every long option of --help is in the man page and the bash, zsh and fish completions" {
	local root=$XU_TESTS_DIR/.. opts o missing=""
	xlisten --help
	opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$output" | sort -u | grep -v -- '--format$' || true)
	opts="$opts --format"
	[ -n "$opts" ] || fail "no options in --help"
	for o in $opts; do
		grep -q -- "^\.It Fl ${o#-}\b\|Fl ${o#-}\b" "$root/man/xmpp-listen.1" || missing="$missing man:$o"
		grep -q -- "$o\b" "$root/completions/bash/xmpp-listen" || missing="$missing bash:$o"
		grep -q -- "$o\b" "$root/completions/zsh/_xmpp-listen" || missing="$missing zsh:$o"
		grep -q -- "-l ${o#--}\b" "$root/completions/fish/xmpp-listen.fish" || missing="$missing fish:$o"
	done
	[ -z "$missing" ] || fail "missing:$missing"
	# the man page renders without warnings and has the sections users look for
	local rendered
	rendered=$(MANWIDTH=80 man --warnings -l "$root/man/xmpp-listen.1" 2>"$BATS_TEST_TMPDIR/man.err")
	[ ! -s "$BATS_TEST_TMPDIR/man.err" ] || fail "man warnings: $(cat "$BATS_TEST_TMPDIR/man.err")"
	for o in SYNOPSIS DESCRIPTION OPTIONS CONFIGURATION "EXIT STATUS" EXAMPLES SECURITY "SEE ALSO"; do
		grep -q "^$o" <<<"$rendered" || fail "man page has no $o section"
	done
	bash -n "$root/completions/bash/xmpp-listen" || fail "bash completion has a syntax error"
}

# ---------------------------------------------------------------- output

@test "a message from another account appears in each format and parses (xmllint, jq)" {
	local body="hello $TOKEN" d=$BATS_TEST_TMPDIR
	each_format_once "$body"
	# xml: a well-formed stanza in jabber:client, the body intact
	xmllint --noout "$d/xml.out" || fail "xml output does not parse"
	[ "$(xmllint --xpath 'namespace-uri(/*)' "$d/xml.out")" = "jabber:client" ] || fail "no jabber:client namespace"
	[ "$(xmllint --xpath 'string(/*/*[local-name()="body"])' "$d/xml.out")" = "$body" ] || fail "xml body differs"
	[ "$(xmllint --xpath 'string(/*/@type)' "$d/xml.out")" = chat ] || fail "xml type is not chat"
	# json: the documented keys, and the man page's jq example
	jq -e --arg b "$body" '.kind == "message" and .type == "chat" and .body == $b
		and (.from | startswith("alice@xu.test/")) and .to == "bob@xu.test" and (.id | length > 0)
		and .subject == null and .thread == null and .delay == null and .error == null
		and (.received | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}$"))
		and (.xml | startswith("<message "))' "$d/json.out" >/dev/null || fail "json: $(cat "$d/json.out")"
	[ "$(jq -r 'select(.type=="chat") | .body' "$d/json.out")" = "$body" ] || fail "the man page's jq example"
	# text: TIME FROM: BODY
	grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8} alice@xu\.test/[^ ]+: hello $TOKEN\$" "$d/text.out" ||
		fail "text: $(cat "$d/text.out")"
	# body: the body alone
	[ "$(cat "$d/body.out")" = "$body" ] || fail "body: $(cat "$d/body.out")"
}

@test "a body with newlines, quotes, <, & and emoji: one XML line that parses back to the same body" {
	local body d=$BATS_TEST_TMPDIR
	body=$(printf 'first line %s\nsecond "quoted" & <tagged> line\n\tindented 🎉 ünïcödé '\''apos'\''\n\nlast' "$TOKEN")
	each_format_once "$body"
	grep -q '&#10;' "$d/xml.out" || fail "newlines not written as &#10;"
	[ "$(xmllint --xpath 'string(/*/*[local-name()="body"])' "$d/xml.out")" = "$body" ] ||
		fail "xml body differs after parsing: $(xmllint --xpath 'string(/*/*[local-name()="body"])' "$d/xml.out")"
	[ "$(jq -r .body "$d/json.out")" = "$body" ] || fail "json body differs"
	[ "$(jq -r .xml "$d/json.out")" = "$(cat "$d/xml.out")" ] || fail "json .xml differs from the xml line"
	# --body: the man page's read loop gives the body back
	local line restored
	IFS= read -r line <"$d/body.out"
	restored=$(printf '%b' "$line")
	[ "$restored" = "$body" ] || fail "printf %b of the --body line differs: $restored"
	# text: one line for people, newline shown as \n
	grep -q 'first line .*\\nsecond "quoted" & <tagged> line\\n' "$d/text.out" || fail "text: $(cat "$d/text.out")"
}

@test "round trip: --format xml | xmpp-send --xml delivers the same body to a third account" {
	local body
	body=$(printf 'relay %s\nwith "quotes" & <angle> brackets\n🎉 done' "$TOKEN")
	start_listen relay -a bob --from "alice@$XU_DOMAIN" --xpath "contains(//body, '$TOKEN')" -n 1
	start_receiver carol carol --count 1
	send_as alice "$body" "bob@$XU_DOMAIN"
	wait_listen relay
	[ "$lstatus" = 0 ] || fail "listen exited $lstatus"
	sed 's/ to="[^"]*"/ to="carol@xu.test"/' "$BATS_TEST_TMPDIR/relay.out" >"$BATS_TEST_TMPDIR/relay.xml"
	xsend -a bob --xml <"$BATS_TEST_TMPDIR/relay.xml"
	assert_status 0
	wait_receiver carol
	BODY=$body assert_recv carol '.[0].body == env.BODY'
}

@test "--count 1 exits 0 after the first match, printing exactly one" {
	start_listen one -a bob --from "alice@$XU_DOMAIN" --xpath "contains(//body, '$TOKEN')" -n 1 --format body
	send_as alice "first $TOKEN" "bob@$XU_DOMAIN"
	wait_listen one 10
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	[ "$(cat "$BATS_TEST_TMPDIR/one.out")" = "first $TOKEN" ] || fail "printed: $(cat "$BATS_TEST_TMPDIR/one.out")"
}

@test "--timeout: 75 when nothing matched, 0 when something did; --idle likewise" {
	xlisten -a bob --xpath "//body = 'never-$TOKEN'" --timeout 2
	assert_status 75
	assert_stderr_matches 'nothing matched within 2 s'
	[ "$elapsed_ms" -ge 1900 ] && [ "$elapsed_ms" -lt 6000 ] || fail "--timeout 2 took $elapsed_ms ms"
	[ -z "$output" ] || fail "stdout: $output"

	# --timeout 0 is no listening deadline (the --idle here ends it)
	xlisten -a bob --xpath "//body = 'never-$TOKEN'" --idle 1 --timeout 0
	assert_status 75
	assert_stderr_matches 'nothing matched within 1 s \(--idle\)'

	start_listen t -a bob --from "alice@$XU_DOMAIN" --xpath "contains(//body, '$TOKEN')" --timeout 8 --format body
	start_listen i -a bob --from "alice@$XU_DOMAIN" --xpath "contains(//body, '$TOKEN')" --idle 5 --format body
	send_as alice "in time $TOKEN" "bob@$XU_DOMAIN"
	wait_listen i 10
	[ "$lstatus" = 0 ] || fail "--idle after a match exited $lstatus"
	wait_listen t 10
	[ "$lstatus" = 0 ] || fail "--timeout after a match exited $lstatus"
	[ "$(cat "$BATS_TEST_TMPDIR/t.out")" = "in time $TOKEN" ] || fail "--timeout run printed: $(cat "$BATS_TEST_TMPDIR/t.out")"
}

@test "filters: --xpath, --from, --type and --kind select; non-matching stanzas are not printed" {
	# each listener stops at its first match; the others are sent first, so a
	# filter that lets one through shows it
	start_listen xp -a bob --xpath "/message[body='$TOKEN-b']" -n 1 --format body
	start_listen cxp -a bob --xpath "/c:message[@type='headline'][contains(c:body,'$TOKEN')]" -n 1 --format body
	start_listen from -a bob --from "carol@$XU_DOMAIN" --kind message --xpath "contains(//body,'$TOKEN')" -n 1 --format body
	start_listen type -a bob --type headline,groupchat --xpath "contains(//body,'$TOKEN')" -n 1 --format body
	start_listen kind -a bob --kind iq,presence --from "alice@$XU_DOMAIN" --timeout 3 --format body
	send_as alice "$TOKEN-a" "bob@$XU_DOMAIN"
	send_as carol "$TOKEN-c" "bob@$XU_DOMAIN"
	send_as alice "$TOKEN-b" "bob@$XU_DOMAIN" -t headline
	local n want
	for n in xp:$TOKEN-b cxp:$TOKEN-b from:$TOKEN-c type:$TOKEN-b; do
		want=${n#*:}
		n=${n%%:*}
		wait_listen "$n"
		[ "$lstatus" = 0 ] || fail "$n exited $lstatus"
		[ "$(cat "$BATS_TEST_TMPDIR/$n.out")" = "$want" ] || fail "$n printed '$(cat "$BATS_TEST_TMPDIR/$n.out")', want '$want'"
	done
	# messages are never printed with --kind iq,presence, so --body has nothing to show
	wait_listen kind
	[ "$lstatus" = 75 ] || fail "--kind iq,presence exited $lstatus"
	[ ! -s "$BATS_TEST_TMPDIR/kind.out" ] || fail "--kind iq,presence printed: $(cat "$BATS_TEST_TMPDIR/kind.out")"
}

@test "a stored message arrives on login with its delay stamp" {
	send_as alice "stored $TOKEN" "dave@$XU_DOMAIN"
	xlisten -a dave --format json --xpath "contains(//body,'$TOKEN')" -n 1 --timeout 10
	assert_status 0
	jq -e --arg b "stored $TOKEN" '.body == $b and (.delay | test("^[0-9]{4}-"))' <<<"$output" >/dev/null ||
		fail "no delay stamp: $output"
	# the man page's example: only messages that were not stored
	send_as alice "stored again $TOKEN" "dave@$XU_DOMAIN"
	xlisten -a dave --kind message --xpath 'not(//delay:delay)' --xpath "contains(//body,'$TOKEN')" --timeout 3
	assert_status 75
}

# ---------------------------------------------------------------- rooms

@test "rooms: another occupant's message is printed; own echoes and history are not (unless asked)" {
	local room="echo-$TOKEN@$XU_MUC" d=$BATS_TEST_TMPDIR
	# carol creates the room and leaves a message in its history
	peer carol carol room --muc "$room" --before "history $TOKEN" --after "live $TOKEN" \
		--trigger "$d/go" --ready-file "$d/carol.ready"
	wait_file "$d/carol.ready"
	start_listen bob -a bob --room "$room/watcher" --format json --kind message
	start_listen dave -a dave --room "$room/w2" --own --history 5 --format json --kind message
	grep -q "joined $room as watcher" "$d/bob.err" || fail "no join reported"
	touch "$d/go"
	peer_wait carol
	# echoes: the same accounts and nicks post from another session (a bot
	# answering through xmpp-send --muc with its own nick does the same)
	peer ownbob bob room --muc "$room" --nick watcher --before "own bob $TOKEN"
	peer_wait ownbob
	peer owndave dave room --muc "$room" --nick w2 --before "own dave $TOKEN"
	peer_wait owndave
	wait_output bob "own dave $TOKEN"
	wait_output dave "own dave $TOKEN"
	stop_listen bob
	[ "$lstatus" = 0 ] || fail "bob exited $lstatus"
	stop_listen dave
	local bodies
	bodies=$(jq -r 'select(.body != null) | .body' "$d/bob.out" | tr '\n' '|')
	[ "$bodies" = "live $TOKEN|own dave $TOKEN|" ] || fail "default listener printed: $bodies"
	jq -se --arg r "$room/carol" --arg b "live $TOKEN" 'map(select(.body == $b))[0]
		| .from == $r and .type == "groupchat"' "$d/bob.out" >/dev/null || fail "the room message is not from $room/carol"
	bodies=$(jq -r 'select(.body != null) | .body' "$d/dave.out" | tr '\n' '|')
	[ "$bodies" = "history $TOKEN|live $TOKEN|own bob $TOKEN|own dave $TOKEN|" ] ||
		fail "--own --history 5 printed: $bodies"
	jq -se --arg b "history $TOKEN" 'map(select(.body == $b))[0].delay != null' "$d/dave.out" >/dev/null ||
		fail "the history message has no delay stamp"
}

@test "the man page's room example: wait for one room message with --xpath, -n 1 and --timeout" {
	local room="wait-$TOKEN@$XU_MUC" d=$BATS_TEST_TMPDIR
	peer carol carol room --muc "$room" --after "the one $TOKEN" --trigger "$d/go" --ready-file "$d/carol.ready"
	wait_file "$d/carol.ready"
	start_listen w -a bob --room "$room/watcher" --xpath '/message[body]' -n 1 --timeout 30
	touch "$d/go"
	wait_listen w
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	grep -q "the one $TOKEN" "$d/w.out" || fail "not printed"
	peer_wait carol
}

# ---------------------------------------------------------------- a good citizen

@test "answers ping, disco#info and version; service-unavailable otherwise; never an error to an error" {
	start_listen q -a bob -r "lsn-$TOKEN" --kind iq --format json
	peer q carol query --to "bob@$XU_DOMAIN/lsn-$TOKEN"
	peer_wait q
	local r=$BATS_TEST_TMPDIR/q.peer
	sed 's/^/# /' "$r"
	jq -se 'map(select(.query == "ping"))[0].type == "result"' "$r" >/dev/null || fail "ping"
	jq -se 'map(select(.query == "disco"))[0] | .type == "result"
		and any(.identities[]; . == ["client", "bot", "xmpp-listen"])
		and (.features | contains(["urn:xmpp:ping", "jabber:iq:version",
		                           "http://jabber.org/protocol/disco#info"]))' "$r" >/dev/null || fail "disco#info"
	jq -se 'map(select(.query == "version"))[0] | .type == "result" and .name == "xmpp-listen"
		and (.version | test("^[0-9]+\\.[0-9]+")) and .os == null' "$r" >/dev/null || fail "version"
	jq -se 'map(select(.query == "unknown-get" or .query == "unknown-set"))
		| length == 2 and all(.type == "error" and .condition == "service-unavailable")' "$r" >/dev/null ||
		fail "unknown requests"
	jq -se 'map(select(.query == "error"))[0].type == null' "$r" >/dev/null || fail "an iq error was answered"
	# the requests themselves are printed like any stanza
	wait_output q '"kind":"iq"' 5
	stop_listen q
	jq -se 'map(.type) | contains(["get", "set"]) and (contains(["error"]) | not)' "$BATS_TEST_TMPDIR/q.out" \
		>/dev/null || fail "printed iqs: $(jq -c '[.type, .from]' "$BATS_TEST_TMPDIR/q.out")"
}

@test "as a component: what is sent to its JIDs is printed (filters included) and pings are answered" {
	local sec=$BATS_TEST_TMPDIR/component.secret
	(umask 077 && printf '%s\n' "$XU_COMPONENT_SECRET" >"$sec")
	start_listen comp -C /dev/null --component "$XU_COMPONENT" --host 127.0.0.1 \
		--port "$XU_COMPONENT_PORT" --secret-file "$sec" --format json \
		--xpath "/message[contains(body,'$TOKEN')] | /iq"
	send_as alice "for the bot $TOKEN" "bot@$XU_COMPONENT"
	peer q carol query --to "bot@$XU_COMPONENT"
	peer_wait q
	jq -se 'map(select(.query == "ping"))[0].type == "result"' "$BATS_TEST_TMPDIR/q.peer" >/dev/null ||
		fail "the component did not answer a ping: $(cat "$BATS_TEST_TMPDIR/q.peer")"
	wait_output comp "for the bot $TOKEN"
	stop_listen comp
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	jq -se --arg b "for the bot $TOKEN" 'map(select(.kind == "message"))
		| length == 1 and .[0].body == $b and .[0].to == "bot@component.xu.test"' \
		"$BATS_TEST_TMPDIR/comp.out" >/dev/null || fail "printed: $(cat "$BATS_TEST_TMPDIR/comp.out")"
	xlisten --component "$XU_COMPONENT" --host 127.0.0.1 --port "$XU_COMPONENT_PORT" --secret-file "$sec" \
		--room "r@$XU_MUC"
	assert_status 64
}

# ---------------------------------------------------------------- long runs

@test "20,000 messages flooded at it are all printed, in order, none lost, memory bounded" {
	xu_skip_under_valgrind "peak RSS measures valgrind, and the flood outruns it"
	local n=20000 d=$BATS_TEST_TMPDIR rss0 hwm
	start_listen f -a bob --from "alice@$XU_DOMAIN" --kind message --format body
	rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$(listen_pid f)/status")
	peer flood alice flood --to "bob@$XU_DOMAIN" --count "$n" --prefix "F$TOKEN" --timeout 120
	peer_wait flood
	wait_output f "^F$TOKEN [0-9]+\$" "$n" 60
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$(listen_pid f)/status")
	stop_listen f
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	grep "^F$TOKEN " "$d/f.out" | awk '{print $2}' >"$d/got"
	seq 1 "$n" >"$d/want"
	cmp -s "$d/got" "$d/want" || fail "lost, duplicated or reordered: $(diff "$d/want" "$d/got" | head -5)"
	echo "# VmRSS before the flood: ${rss0} kB; VmHWM after $n messages: ${hwm} kB" >&3
	# under ASan or valgrind the figures are the instrumentation's, not ours
	if ! is_sanitizer_build && [ "${XU_VALGRIND:-0}" != 1 ]; then
		[ "$hwm" -lt 32768 ] || fail "peak RSS $hwm kB"
		[ $((hwm - rss0)) -lt 8192 ] || fail "RSS grew by $((hwm - rss0)) kB during the flood"
	fi
}

@test "a reader that stops reading: the flood waits in the network, memory stays bounded, nothing lost" {
	local n=20000 d=$BATS_TEST_TMPDIR pid hwm i c
	mkfifo "$d/pipe"
	# the reader holds the pipe open but reads nothing until told to
	(
		while [ ! -e "$d/read-now" ]; do sleep 0.05; done
		cat >"$d/slow.out"
	) <"$d/pipe" &
	_xu_track $!
	"$XU_BIN/xmpp-listen" -v -a bob --from "alice@$XU_DOMAIN" --kind message --format json \
		>"$d/pipe" 2>"$d/slow.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	LISTEN_PID_slow=$pid
	wait_stderr slow '; listening$'
	peer flood alice flood --to "bob@$XU_DOMAIN" --count "$n" --prefix "S$TOKEN" --timeout 120
	peer_wait flood
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	touch "$d/read-now"
	for i in $(seq 1 1200); do
		c=$(grep -c "S$TOKEN" "$d/slow.out" 2>/dev/null) || true
		[ "${c:-0}" -ge "$n" ] && break
		sleep 0.05
	done
	stop_listen slow
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	[ "$(jq -r 'select(.body != null) | .body' "$d/slow.out" | grep -c "^S$TOKEN ")" = "$n" ] ||
		fail "got $(grep -c "S$TOKEN" "$d/slow.out") of $n"
	echo "# VmHWM with a stalled reader, after $n messages were sent: ${hwm} kB" >&3
	# under ASan or valgrind the figures are the instrumentation's, not ours
	if ! is_sanitizer_build && [ "${XU_VALGRIND:-0}" != 1 ]; then
		[ "$hwm" -lt 32768 ] || fail "peak RSS $hwm kB"
	fi
}

@test "--reconnect: the server is killed and restarted; listening resumes and the room is rejoined" {
	local room="rc-$TOKEN@$XU_MUC" d=$BATS_TEST_TMPDIR
	start_listen rc -a bob --reconnect --room "$room/watcher" --format json --kind message \
		--xpath "contains(//body,'$TOKEN')"
	send_as alice "before $TOKEN" "bob@$XU_DOMAIN"
	wait_output rc "before $TOKEN"
	prosody_stop
	wait_stderr rc 'reconnecting in'
	prosody_start
	wait_stderr rc 'reconnected as bob@xu\.test/' 40
	send_as alice "after $TOKEN" "bob@$XU_DOMAIN"
	peer carol carol room --muc "$room" --before "room after $TOKEN"
	peer_wait carol
	wait_output rc "room after $TOKEN"
	wait_output rc "\"after $TOKEN\""
	stop_listen rc
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	# stdout carries stanzas only; the warnings went to stderr
	jq -e . "$d/rc.out" >/dev/null || fail "stdout is not JSON lines only"
	[ "$(grep -c "joined $room as watcher" "$d/rc.err")" = 2 ] || fail "the room was not rejoined"
	grep -q 'system-shutdown' "$d/rc.err" || fail "the reason for the drop was not reported"
}

@test "without --reconnect a lost connection ends the run with 75" {
	start_listen lost -a bob --kind message
	prosody_stop
	wait_listen lost 10
	[ "$lstatus" = 75 ] || fail "exit $lstatus"
	grep -q 'system-shutdown' "$BATS_TEST_TMPDIR/lost.err" || fail "no reason given"
	prosody_start
}

@test "--keepalive: a server that stops answering is noticed, and --reconnect gets the session back" {
	start_listen ka -a bob --reconnect --keepalive 1 --trace "$BATS_TEST_TMPDIR/ka.trace" \
		--kind message --xpath "contains(//body,'$TOKEN')" --format body
	# idle: pings go out
	local i
	for i in $(seq 1 100); do
		grep -q '^C: .*urn:xmpp:ping' "$BATS_TEST_TMPDIR/ka.trace" && break
		sleep 0.05
	done
	grep -q '^C: .*urn:xmpp:ping' "$BATS_TEST_TMPDIR/ka.trace" || fail "no keepalive ping in the trace"
	STOPPED_PROSODY=$(cat "$XU_TMP/prosody.bgpid")
	kill -STOP "$STOPPED_PROSODY"
	wait_stderr ka 'no answer to a keepalive ping within 1 s' 10
	kill -CONT "$STOPPED_PROSODY"
	STOPPED_PROSODY=""
	wait_stderr ka 'reconnected as' 40
	send_as alice "alive $TOKEN" "bob@$XU_DOMAIN"
	wait_output ka "alive $TOKEN"
	stop_listen ka
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	[ "$(grep -c '^\* connection successful' "$BATS_TEST_TMPDIR/ka.trace")" -ge 2 ] ||
		fail "the trace of the first session was not kept"
}

@test "SIGTERM: exit 0; the room sees it leave and the server sees presence unavailable and a closed stream" {
	local room="term-$TOKEN@$XU_MUC" d=$BATS_TEST_TMPDIR jid
	peer carol carol room --muc "$room" --wait-leave watcher --ready-file "$d/carol.ready"
	wait_file "$d/carol.ready"
	start_listen term -a bob --room "$room/watcher" --status "off to lunch"
	jid=$(listen_jid term)
	[ -n "$jid" ] || fail "no JID"
	prosody_log_mark
	stop_listen term TERM
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	peer_wait carol
	jq -e '.left == "watcher"' "$d/carol.peer" >/dev/null || fail "the room did not see it leave"
	local log
	if xu_has_server_log; then
		log=$(prosody_log_since_mark)
		grep -q "Received\[c2s\]: <presence type='unavailable'" <<<"$log" || fail "no unavailable presence at the server"
		grep -q 'Received </stream:stream>' <<<"$log" || fail "the stream was not closed by the client"
		grep -qF "c2s stream for $jid closed: session closed" <<<"$log" || fail "the server did not see a clean close of $jid"
	fi
	# SIGINT (Ctrl-C) does the same
	start_listen int -a bob
	stop_listen int INT
	[ "$lstatus" = 0 ] || fail "SIGINT: exit $lstatus"
	[ -z "$(grep -v '^xmpp-listen: online as' "$d/int.err")" ] || fail "SIGINT: messages on stderr"
}

@test "a reader that goes away (| head -n 1) ends the run quietly with 0" {
	local d=$BATS_TEST_TMPDIR i
	(
		"$XU_BIN/xmpp-listen" -v -a bob --from "alice@$XU_DOMAIN" --xpath "contains(//body,'$TOKEN')" \
			--format body 2>"$d/head.err" </dev/null 3>&-
		echo $? >"$d/head.rc"
	) | head -n 1 >"$d/head.out" &
	_xu_track $!
	wait_stderr head '; listening$'
	send_as alice "one $TOKEN" "bob@$XU_DOMAIN"
	for i in $(seq 1 200); do
		[ -e "$d/head.rc" ] && break
		sleep 0.05
	done
	[ -e "$d/head.rc" ] || fail "still running after head exited"
	[ "$(cat "$d/head.rc")" = 0 ] || fail "exit $(cat "$d/head.rc")"
	[ "$(cat "$d/head.out")" = "one $TOKEN" ] || fail "head got: $(cat "$d/head.out")"
	[ -z "$(grep -v '^xmpp-listen: online as' "$d/head.err")" ] || fail "stderr: $(cat "$d/head.err")"
}

@test "--presence and --status reach the account's other sessions; --no-presence sends none" {
	start_listen watch -a bob --kind presence --from "bob@$XU_DOMAIN/p-$TOKEN" --format json
	start_listen away -a bob -r "p-$TOKEN" --presence dnd --status "in a meeting $TOKEN"
	wait_output watch '"show":"dnd"'
	stop_listen away
	wait_output watch '"type":"unavailable"'
	stop_listen watch
	jq -se --arg s "in a meeting $TOKEN" 'map(select(.type == "available"))[0] | .show == "dnd" and .status == $s' \
		"$BATS_TEST_TMPDIR/watch.out" >/dev/null || fail "presence: $(cat "$BATS_TEST_TMPDIR/watch.out")"
	start_listen watch2 -a bob --kind presence --from "bob@$XU_DOMAIN/n-$TOKEN" --format json
	start_listen silent -a bob -r "n-$TOKEN" --no-presence
	stop_listen silent
	# the round trip of a later session proves the server has routed everything before it
	xlisten -a bob --timeout 1 --kind message --xpath "contains(//body,'never-$TOKEN')"
	stop_listen watch2
	# (ejabberd announces the end of any session as unavailable presence,
	# even of one that never was available: only available presence counts)
	! grep -q '"type":"available"' "$BATS_TEST_TMPDIR/watch2.out" ||
		fail "--no-presence sent presence: $(cat "$BATS_TEST_TMPDIR/watch2.out")"
}

# ---------------------------------------------------------------- configuration and deadlines

@test "config: listen settings come from the file; xmpp-send's type there does not filter" {
	local conf=$BATS_TEST_TMPDIR/listen.conf
	write_config "$conf" <<-EOF
		account bob
		jid bob@$XU_DOMAIN
		password $XU_BOB_PASSWORD
		format json
		type headline
		keepalive 30
		reconnect on
	EOF
	start_listen c -C "$conf" -a bob --xpath "contains(//body,'$TOKEN')" -n 1
	send_as alice "configured $TOKEN" "bob@$XU_DOMAIN"
	wait_listen c
	[ "$lstatus" = 0 ] || fail "exit $lstatus"
	jq -e --arg b "configured $TOKEN" '.body == $b and .type == "chat"' "$BATS_TEST_TMPDIR/c.out" >/dev/null ||
		fail "not JSON, or filtered: $(cat "$BATS_TEST_TMPDIR/c.out")"
	printf 'format yaml\n' >>"$conf"
	xlisten -C "$conf" -a bob
	assert_status 78
	assert_stderr_matches "$conf:[0-9]+"
}

@test "connecting is bounded: a silent server ends the run with 75 (--timeout, or the config's timeout)" {
	start_sink silent
	xlisten -a bob --port "$SINK_PORT" --timeout 2
	assert_status 75
	[ "$elapsed_ms" -lt 6000 ] || fail "--timeout 2 took $elapsed_ms ms"
	local conf=$BATS_TEST_TMPDIR/short.conf
	write_config "$conf" <<-EOF
		account bob
		jid bob@$XU_DOMAIN
		password $XU_BOB_PASSWORD
		port $SINK_PORT
		timeout 2
	EOF
	xlisten -C "$conf" -a bob
	assert_status 75
	[ "$elapsed_ms" -lt 6000 ] || fail "the config's timeout 2 took $elapsed_ms ms"
	assert_stderr_matches 'timed out'
	# SIGTERM while still connecting ends it at once, with 0
	local pid t0
	"$XU_BIN/xmpp-listen" -a bob --port "$SINK_PORT" >/dev/null 2>"$BATS_TEST_TMPDIR/conn.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	sleep 1
	t0=$(_ms_now)
	kill -TERM "$pid"
	lstatus=0
	wait "$pid" || lstatus=$?
	[ "$lstatus" = 0 ] || fail "SIGTERM while connecting: exit $lstatus"
	[ $(($(_ms_now) - t0)) -lt 1500 ] || fail "SIGTERM while connecting took $(($(_ms_now) - t0)) ms"
}

@test "a resource conflict ends the run even with --reconnect (no fight over the resource)" {
	start_listen first -a bob -r "same-$TOKEN" --reconnect
	start_listen second -a bob -r "same-$TOKEN" --reconnect
	wait_listen first 15
	[ "$lstatus" = 75 ] || fail "exit $lstatus"
	grep -q 'conflict' "$BATS_TEST_TMPDIR/first.err" || fail "no conflict reported"
	! grep -q 'reconnecting in' "$BATS_TEST_TMPDIR/first.err" || fail "it tried to reconnect"
	stop_listen second
	[ "$lstatus" = 0 ] || fail "the second session exited $lstatus"
}

@test "the first connection is not retried: a wrong password exits 77 even with --reconnect" {
	printf 'wrong\n' >"$BATS_TEST_TMPDIR/pw"
	xlisten -C "$(nopw_config)" -a bob --password-file "$BATS_TEST_TMPDIR/pw" --reconnect
	assert_status 77
	[ "$elapsed_ms" -lt 10000 ] || fail "took $elapsed_ms ms"
}
