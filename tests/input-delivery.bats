#!/usr/bin/env bats
# Input and delivery defects of issue 11 (part A): closed standard
# descriptors, truncated or malformed stanzas, text between stanzas, stanzas
# the server rejects, long bodies, signals, numbers, JIDs, the --xml relay's
# fidelity. What arrived is checked on the other side (receiver.py), what was
# sent in the --trace transcript or Prosody's log.

load helpers/common
load helpers/send-stream

xbind() {
	xu_run_tool xmpp-bind "$@"
}

# run_closed REDIR TOOL ARGS...: run TOOL with one standard descriptor closed
# (REDIR: '<&-', '>&-' or '2>&-'); the others to files. Sets status, output,
# stderr. (xu_run_tool cannot: it redirects all three.)
run_closed() {
	local redir=$1 tool=$2 out=$BATS_TEST_TMPDIR/c.out err=$BATS_TEST_TMPDIR/c.err
	shift 2
	set +e
	case $redir in
	'<&-') setsid -w timeout -k 5 60 "$XU_BIN/$tool" "$@" <&- >"$out" 2>"$err" ;;
	'>&-') setsid -w timeout -k 5 60 "$XU_BIN/$tool" "$@" </dev/null >&- 2>"$err" ;;
	'2>&-') setsid -w timeout -k 5 60 "$XU_BIN/$tool" "$@" </dev/null >"$out" 2>&- ;;
	esac
	status=$?
	set -e
	output=$(cat "$out" 2>/dev/null || true)
	stderr=$(cat "$err" 2>/dev/null || true)
	printf '# %s %s %s -> %s\n# stdout: %s\n# stderr: %s\n' "$redir" "$tool" "$*" "$status" "$output" "$stderr"
}

# ---- item 3: closed standard descriptors

@test "closed stdout: xmpp-bind exits 74 and says so; the bound JID never goes onto the connection" {
	prosody_log_mark
	run_closed '>&-' xmpp-bind --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 74
	assert_stderr_matches 'standard output is closed'
	# the stream ended cleanly: nothing unparseable reached the server
	[ "$(log_count 'not-well-formed|XML parse error')" = 0 ] || fail "garbage reached the server"
}

@test "closed stdin: xmpp-bind --stdio reads it as empty input and closes cleanly" {
	run_closed '<&-' xmpp-bind --stdio --trace "$BATS_TEST_TMPDIR/trace"
	assert_status 0
	grep -q '^C: </stream:stream>' "$BATS_TEST_TMPDIR/trace" || fail "the stream was not closed by us"
}

@test "closed stderr: a warning during the session never reaches the connection; one login delivers" {
	local tag i
	tag=$(send_tag)
	start_receiver r bob --count 1
	prosody_log_mark
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	# (no --trace: its file would take the closed descriptor instead)
	"$XU_BIN/xmpp-send" -l -r "w-$tag" "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/fifo" >/dev/null 2>&- 3>&- &
	SEND_PID=$!
	_xu_track "$SEND_PID"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	for i in $(seq 1 200); do
		[ "$(log_count "Resource bound: alice@$XU_DOMAIN/w-$tag")" -ge 1 ] && break
		sleep 0.05
	done
	# an escape sequence makes xmpp-send warn on stderr, now that it is connected
	printf '%s [31mred[0m
' "$tag" >&4
	exec 4>&-
	local rc=0
	wait "$SEND_PID" || rc=$?
	[ "$rc" = 0 ] || fail "xmpp-send exited $rc"
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag red\"]"
	# one connection did it all: the warning did not break it
	[ "$(log_count "Resource bound: alice@$XU_DOMAIN/w-$tag")" = 1 ] || fail "the connection was broken and made again"
}

# ---- item 12: SIGHUP

@test "lines: SIGHUP delivers what was read, closes, exits 129" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 1
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	xsend_bg "$BATS_TEST_TMPDIR/fifo" -l --batch 1h --trace "$BATS_TEST_TMPDIR/trace" "bob@$XU_DOMAIN"
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	printf '%s a\n%s b\n' "$tag" "$tag" >&4
	wait_file_match "$BATS_TEST_TMPDIR/trace" 'connecting to' 10 || fail "it never started connecting"
	kill -HUP "$SEND_PID"
	wait_bg 129
	exec 4>&-
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag a\n$tag b\"]"
}

# ---- item 18: numbers

@test "numbers are decimal only; -4 with -6 is a usage error" {
	local v
	for v in 0x10 1e1 inf nan 10x ' 5' +5; do
		xsend --timeout "$v" -m hi "bob@$XU_DOMAIN"
		assert_status 64
		assert_stderr_matches "not '"
	done
	xsend --max-size 0x100 -m hi "bob@$XU_DOMAIN"
	assert_status 64
	xu_run_tool xmpp-probe -4 -6 --no-login "$XU_DOMAIN"
	assert_status 64
	assert_stderr_matches 'exclude each other'
	xu_run_tool xmpp-probe --ipv6 -4 --no-login "$XU_DOMAIN"
	assert_status 64
	# and a decimal one with a fraction and a unit is still fine
	xsend --timeout 2.5s -m hi "bob@$XU_DOMAIN"
	assert_status 0
}

# ---- item 4: a truncated or malformed stanza is never sent

@test "stdio: an iq cut off by the end of input is not sent (the roster is unchanged), exit 65" {
	local tag
	tag=$(send_tag)
	printf '<iq type="set"><query xmlns="jabber:iq:roster"><item jid="m-%s@%s" name="T"/></query>' \
		"$tag" "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xbind -a erin --stdio --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'input ended inside the <iq> stanza that starts at line 1'
	! grep -q "m-$tag" "$BATS_TEST_TMPDIR/trace" || fail "the truncated iq went out"
	xbind -a erin --query '<iq type="get"><query xmlns="jabber:iq:roster"/></iq>'
	assert_status 0
	! grep -q "m-$tag" <<<"$output" || fail "the truncated iq changed the roster"
}

@test "xml: a bare & is reported with its line and column; nothing of that stanza is sent" {
	printf '<message to="bob@%s"><body>ok</body></message>\n<message to="bob@%s"><body>Tom & Jerry</body></message>\n' \
		"$XU_DOMAIN" "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	# the & is at column 30 + the length of the domain
	assert_stderr_matches "line 2, column $((30 + ${#XU_DOMAIN})): a bare '&'"
	[ "$(grep -c '^C: <message' "$BATS_TEST_TMPDIR/trace")" = 1 ] || fail "the broken stanza was sent"
	! grep -q 'Tom' "$BATS_TEST_TMPDIR/trace" || fail "part of the broken stanza was sent"
}

# ---- item 7: text between stanzas

@test "xml, stdio: text between stanzas is exit 65 with line and column, never dropped" {
	echo hello >"$BATS_TEST_TMPDIR/in"
	xsend --xml --strict <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 1, column 1: text outside a stanza.*nothing was sent'
	printf '<message to="bob@%s"><body>a</body></message>\n  stray &amp; text\n<message to="bob@%s"><body>b</body></message>\n' \
		"$XU_DOMAIN" "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 2, column 3: text outside a stanza'
	[ "$(grep -c '^C: <message' "$BATS_TEST_TMPDIR/trace")" = 1 ] || fail "a stanza after the text was sent"
	printf '<presence/>\nhello\n' >"$BATS_TEST_TMPDIR/in"
	xbind --stdio <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 2, column 1: text outside a stanza'
}

# ---- item 15: the suite's words, not libxml2's

@test "xml: an XML declaration at the start is accepted; DOCTYPE, deep nesting, Latin-1 are said plainly" {
	local tag deep
	tag=$(send_tag)
	start_receiver r bob --count 1
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<message to="bob@%s">\n  <body>%s</body>\n</message>\n' \
		"$XU_DOMAIN" "$tag" >"$BATS_TEST_TMPDIR/in"
		xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag\"]"

	printf '<!DOCTYPE message>\n<message to="bob@%s"/>\n' "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 1, column 1: a DOCTYPE'
	! grep -Eqi 'internal error|element content' <<<"$stderr" || fail "libxml2's words"

	deep=$(printf '<b>%.0s' $(seq 300))
	printf '<message to="bob@%s">%s\n' "$XU_DOMAIN" "$deep" >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'nested more than 256 deep'
	! grep -q 'XML_PARSE_HUGE' <<<"$stderr" || fail "libxml2's words"

	printf '<message to="bob@%s"><body>caf\351</body></message>\n' "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 1, column [0-9]+: the input is not UTF-8'
	! grep -q 'indicate encoding' <<<"$stderr" || fail "libxml2's words"

	printf '<?xml version="1.0" encoding="ISO-8859-1"?>\n<message/>\n' >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'only UTF-8'

	printf '<message/>\n<?xml version="1.0"?>\n' >"$BATS_TEST_TMPDIR/in"
	xsend --xml --strict <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 2, column 1: an XML declaration .* only at the very start'
}

# ---- item 16: the --xml relay is faithful

# What Prosody stored for an offline user's messages (its internal storage
# writes the parsed strings as Lua literals, so a CR shows as \r or \13).
offline_store() {
	cat "$XU_TMP"/data/*/offline/"$1".list 2>/dev/null || true
}

@test "xml: LF, CR and TAB in attribute values and CR in text reach the server as sent; one stanza per C: line" {
	local tag stored
	tag=$(send_tag)
	# erin stays offline: the server stores the message as it parsed it
	printf '<message to="erin@%s" id="%s&#10;a&#9;b&#13;c" type="chat">\n<body>%s&#13;x&#10;y&#9;z</body>\n</message>\n' \
		"$XU_DOMAIN" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend --xml --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	grep -q "^C: <message .*id=\"$tag&#10;a&#9;b&#13;c\".*</message>\$" "$BATS_TEST_TMPDIR/trace" ||
		fail "the trace does not show the stanza on one C: line, escaped"
	stored=$(offline_store erin | grep -F "$tag" | sed 's/^/# stored: /')
	printf '%s\n' "$stored"
	# the id kept its LF, TAB and CR; the body its CR (not turned into LF)
	grep -Fq "\"$tag\\na\\tb\\rc\"" <<<"$stored" || fail "the id's LF, TAB or CR did not reach the server"
	grep -Fq "\"$tag\\rx\\ny\\tz\"" <<<"$stored" || fail "the body's CR did not reach the server"
	# take it out of erin's offline store: later tests expect it empty
	start_receiver erin erin --count 1 --offline
	wait_receiver erin
}

# ---- item 5: a stanza the server refuses does not block the rest

@test "xml: stanzas that make the server end the stream are reported and dropped; the rest arrive; exit 65" {
	local tag big
	tag=$(send_tag)
	start_receiver r bob --count 3 --timeout 40
	big=$(head -c 300000 /dev/zero | tr '\0' 'x')
	{
		printf '<message to="bob@%s"><body>%s 1</body></message>\n' "$XU_DOMAIN" "$tag"
		printf '<message to="bob@%s"><body>%s</body></message>\n' "$XU_DOMAIN" "$big"
		printf '<message to="bob@%s"><body>%s 3</body></message>\n' "$XU_DOMAIN" "$tag"
		printf '<message xmlns="jabber:server" to="bob@%s"><body>%s 4</body></message>\n' "$XU_DOMAIN" "$tag"
		printf '<message to="bob@%s"><body>%s 5</body></message>\n' "$XU_DOMAIN" "$tag"
	} >"$BATS_TEST_TMPDIR/in"
	prosody_log_mark
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	# (the server's condition, unless it reset the connection before it was read)
	assert_stderr_matches 'stanza 2 \(line 2\) was refused \((.*policy-violation|the connection broke each time)'
	assert_stderr_matches 'stanza 4 \(line 4\) was refused \((.*unsupported-stanza-type|the connection broke each time)'
	assert_stderr_matches '2 stanzas refused by the server and not delivered .*the others were delivered'
	wait_receiver r
	[ "$(tagged_numbers r "$tag" | sort -un | tr '\n' ' ')" = "1 3 5 " ] || fail "not exactly 1, 3 and 5 arrived"
	# each refused stanza ended a few streams (once more than once when it was in
	# flight with others, or when the server reset the connection before its
	# stream error could be read), never more
	local big_ends other_ends
	big_ends=$(log_count 'Disconnecting client.*XML stanza is too big')
	other_ends=$(log_count 'Disconnecting client.*unsupported-stanza-type')
	[ "$big_ends" -ge 1 ] && [ "$big_ends" -le 4 ] || fail "the big stanza ended $big_ends streams"
	[ "$other_ends" -ge 1 ] && [ "$other_ends" -le 4 ] || fail "the jabber:server stanza ended $other_ends streams"
}

# ---- item 6: a long body with default options

@test "a 5 MB body with default options is delivered whole (its parts are not paced as messages)" {
	local n
	/usr/bin/python3 -c 'import sys
for i in range(100000): sys.stdout.write("line %06d of a long body, 50 bytes each......\n" % i)' \
		>"$BATS_TEST_TMPDIR/body"
	# the parts: 32768 bytes each (ASCII), the final newline is not sent
	n=$(( ($(stat -c %s "$BATS_TEST_TMPDIR/body") - 1 + 32767) / 32768 ))
	start_receiver r bob --count "$n" --timeout 60
	xsend "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/body"
	assert_status 0
	wait_receiver r
	recv_jq r 'map(.body) | join("")' >"$BATS_TEST_TMPDIR/got"
	head -c -1 "$BATS_TEST_TMPDIR/body" | cmp - <(head -c -1 "$BATS_TEST_TMPDIR/got") ||
		fail "the parts joined are not the body"
}

@test "a long body that cannot be acknowledged in time: the error counts the parts not acknowledged" {
	# --rate does not pace the parts, but 16-byte parts under a short
	# deadline cannot all be acknowledged
	head -c 400000 /dev/zero | tr '\0' 'y' >"$BATS_TEST_TMPDIR/body"
	xsend --max-size 16 --timeout 0.5 "dave@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/body"
	assert_status 75
	assert_stderr_matches "[0-9]+ of the message's 25000 parts not acknowledged by the server"
}

# ---- item 11: resource conflicts

@test "resource conflict: the replaced xmpp-send does not reconnect (exit 75, says why); no reconnect storm" {
	local tag res
	tag=$(send_tag)
	res="same-$tag"
	prosody_log_mark
	mkfifo "$BATS_TEST_TMPDIR/fa" "$BATS_TEST_TMPDIR/fb"
	"$XU_BIN/xmpp-send" -l -r "$res" --trace "$BATS_TEST_TMPDIR/ta" "bob@$XU_DOMAIN" \
		<"$BATS_TEST_TMPDIR/fa" >/dev/null 2>"$BATS_TEST_TMPDIR/a.err" 3>&- &
	local apid=$!
	_xu_track "$apid"
	exec 4>"$BATS_TEST_TMPDIR/fa"
	wait_file_match "$BATS_TEST_TMPDIR/ta" '_xmpp_bind|bind' 15 || fail "A did not bind"
	sleep 1
	"$XU_BIN/xmpp-send" -l -r "$res" "bob@$XU_DOMAIN" \
		<"$BATS_TEST_TMPDIR/fb" >/dev/null 2>"$BATS_TEST_TMPDIR/b.err" 3>&- &
	local bpid=$!
	_xu_track "$bpid"
	exec 5>"$BATS_TEST_TMPDIR/fb"
	# A is replaced and ends by itself
	local rc=0 i
	for i in $(seq 1 200); do
		kill -0 "$apid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$apid" 2>/dev/null; then
		kill "$apid" "$bpid"
		sed 's/^/# A: /' "$BATS_TEST_TMPDIR/a.err"
		fail "A is still running 20 s after it was replaced (reconnecting?)"
	fi
	wait "$apid" || rc=$?
	sed 's/^/# A: /' "$BATS_TEST_TMPDIR/a.err"
	[ "$rc" = 75 ] || fail "A exited $rc, not 75"
	grep -q 'not reconnecting' "$BATS_TEST_TMPDIR/a.err" || fail "A does not say why it stops"
	# B stays and delivers
	printf '%s b\n' "$tag" >&5
	exec 5>&- 4>&-
	rc=0
	wait "$bpid" || rc=$?
	sed 's/^/# B: /' "$BATS_TEST_TMPDIR/b.err"
	[ "$rc" = 0 ] || fail "B exited $rc"
	# two logins bound the resource: A, then B (no third)
	[ "$(log_count "Resource bound: alice@$XU_DOMAIN/$res")" = 2 ] || fail "more logins than two"
}

# ---- item 17: one JID preparation

@test "JIDs: LF refused, a final dot removed, xmpp: URIs percent-decoded, --from folded like -j" {
	local tag
	xsend -m hi "$(printf 'bob@local\nhost')"
	assert_status 64
	assert_stderr_matches 'control character \(U\+000A\)'
	xu_run_tool xmpp-probe --no-login "$(printf 'a\nb')"
	assert_status 64
	tag=$(send_tag)
	start_receiver r bob --count 2
	xsend -m "$tag 1" "xmpp:b%6Fb@$XU_DOMAIN."
	assert_status 0
	xsend -m "$tag 2" -j "ALICE@${XU_DOMAIN^^}." "BOB@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	[ "$(tagged_numbers r "$tag" | sort -un | tr '\n' ' ')" = "1 2 " ] || fail "not both arrived"
	xsend -m hi "xmpp:bob%@$XU_DOMAIN"
	assert_status 64
	assert_stderr_matches "not followed by two hex digits"
	# --from Alice@DOMAIN. matches messages from alice@domain
	tag=$(send_tag)
	mkdir -p "$BATS_TEST_TMPDIR/l"
	"$XU_BIN/xmpp-listen" -a bob --from "ALICE@${XU_DOMAIN^^}." --count 1 --timeout 20 \
		>"$BATS_TEST_TMPDIR/l/out" 2>"$BATS_TEST_TMPDIR/l/err" </dev/null 3>&- &
	local lpid=$!
	_xu_track "$lpid"
	sleep 2
	xsend -a carol -m "$tag from carol" "bob@$XU_DOMAIN"
	xsend -a alice -m "$tag from alice" "bob@$XU_DOMAIN"
	local rc=0
	wait "$lpid" || rc=$?
	sed 's/^/# listen: /' "$BATS_TEST_TMPDIR/l/err" "$BATS_TEST_TMPDIR/l/out"
	[ "$rc" = 0 ] || fail "xmpp-listen exited $rc"
	grep -q "$tag from alice" "$BATS_TEST_TMPDIR/l/out" || fail "--from did not match alice"
	! grep -q "$tag from carol" "$BATS_TEST_TMPDIR/l/out" || fail "--from matched carol"
}
