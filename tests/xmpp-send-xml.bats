#!/usr/bin/env bats
# xmpp-send --xml: raw stanzas from standard input.

load helpers/common
load helpers/send-stream

@test "xml: stanzas are sent as given; a missing id is filled in, a foreign from dropped" {
	start_receiver r bob --count 3
	cat >"$BATS_TEST_TMPDIR/in" <<-EOF
		<message to="bob@$XU_DOMAIN" type="chat" id="given-1"><body>one</body></message>

		<message xmlns="jabber:client" to="bob@$XU_DOMAIN" from="mallory@elsewhere.example/x"><body>two</body><thread>th-1</thread></message>
		<message to="bob@$XU_DOMAIN" from="alice@$XU_DOMAIN" type="headline"><subject>s</subject><body>three &amp; more</body></message>
	EOF
	xsend -v --xml --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	assert_stderr_matches '3 stanza\(s\) delivered'
	# the server rewrites a from anyway (Prosody does): what the tool sent is
	# what shows whether it dropped the foreign one
	grep -q "^C: <message.*<body[^>]*>two</body>" "$BATS_TEST_TMPDIR/trace" || fail "the second stanza is not in the trace"
	! grep -q '^C: <message.*mallory@elsewhere' "$BATS_TEST_TMPDIR/trace" || fail "the foreign from was sent"
	wait_receiver r
	assert_recv r '[.[].body] == ["one", "two", "three & more"]'
	assert_recv r '.[0].id == "given-1" and (.[1].id | length) > 0 and .[1].thread == "th-1"'
	assert_recv r "all(.[]; .from | startswith(\"alice@$XU_DOMAIN/\"))"
	assert_recv r '.[2].type == "headline" and .[2].subject == "s"'
}

@test "xml: a malformed stanza in the middle: those before it are delivered, exit 65 with line and column" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --count 2
	cat >"$BATS_TEST_TMPDIR/in" <<-EOF
		<message to="bob@$XU_DOMAIN"><body>$tag 1</body></message>
		<message to="bob@$XU_DOMAIN"><body>$tag 2</body></message>
		<message to="bob@$XU_DOMAIN"><body>$tag 3</bdy></message>
		<message to="bob@$XU_DOMAIN"><body>$tag 4</body></message>
	EOF
	xsend --xml --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'malformed XML at line 3, column [0-9]+: .*the stanzas before it were delivered'
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag 1\", \"$tag 2\"]"
	[ "$(grep -c '^C: <message' "$BATS_TEST_TMPDIR/trace")" = 2 ] || fail "more than the valid stanzas were sent"
}

@test "xml: --strict checks everything first: a malformed stanza means nothing is sent" {
	cat >"$BATS_TEST_TMPDIR/in" <<-EOF
		<message to="bob@$XU_DOMAIN"><body>fine</body></message>
		<message to="bob@$XU_DOMAIN"><body>broken</message>
	EOF
	prosody_log_mark
	xsend --xml --strict <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 2, column [0-9]+.*nothing was sent'
	assert_log_count 0 'XU-AUTH-ATTEMPT' "it connected although the input was bad"
}

@test "xml: an element that is not a stanza, or input ending inside one, is exit 65" {
	printf '<message to="bob@%s"><body>x</body></message>\n<iq-not type="get"/>\n' "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
	assert_stderr_matches 'line 2: <iq-not> is not a stanza'
	printf '<message to="bob@%s"><body>x</body>' "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/in"
	xsend --xml <"$BATS_TEST_TMPDIR/in"
	assert_status 65
}

@test "xml: presence and iq pass too; rooms given as operands are joined first" {
	local room
	room=$(send_room)
	start_receiver r bob --muc "$room" --count 1 --presence
	cat >"$BATS_TEST_TMPDIR/in" <<-EOF
		<iq type="get" to="$XU_DOMAIN" id="xml-ping-1"><ping xmlns="urn:xmpp:ping"/></iq>
		<presence to="$room/alice"><status>present via xml</status></presence>
		<message to="$room" type="groupchat"><body>relayed into the room</body></message>
	EOF
	xsend --xml --muc "$room" --trace "$BATS_TEST_TMPDIR/trace" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "map(select(.body)) | .[0].body == \"relayed into the room\" and .[0].from == \"$room/alice\""
	# the presence reached the room's other occupant, the iq got its answer
	assert_recv r "any(.[]; .presence == \"available\" and .from == \"$room/alice\" and .status == \"present via xml\")"
	grep -Eq '^S: <iq [^>]*id="xml-ping-1"' "$BATS_TEST_TMPDIR/trace" && grep -E '^S: <iq [^>]*id="xml-ping-1"' "$BATS_TEST_TMPDIR/trace" | grep -q 'type="result"' ||
		fail "no result for the relayed iq in the trace"
	xsend --xml "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	xsend --xml -l </dev/null
	assert_status 64
	xsend --strict -m x "bob@$XU_DOMAIN"
	assert_status 64
}
