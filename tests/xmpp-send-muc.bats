#!/usr/bin/env bats
# xmpp-send --muc: posting to multi-user chat rooms (XEP-0045).

load helpers/common
load helpers/send-stream

# first_line FILE ERE: number of the first line of FILE matching ERE (0: none).
first_line() {
	grep -nE -- "$2" "$1" | head -1 | cut -d: -f1 | grep . || echo 0
}

# assert_posted_after_join TRACE ROOM NICK: in the transcript, the room's
# presence for us (status 110) came before our first groupchat message.
# Prints the line of that message.
assert_posted_after_join() {
	local joined posted
	joined=$(first_line "$1" "^S: <presence.*from=\"$2/$3\".*code=\"110\"")
	posted=$(first_line "$1" '^C: <message.*type="groupchat"')
	[ "$joined" -gt 0 ] && [ "$posted" -gt "$joined" ] ||
		fail "sent before the join (110 at line $joined, message at $posted)"
	echo "$posted"
}

@test "muc: a post arrives in the room, seen by another occupant, and only after our join completed" {
	local room posted
	room=$(send_room)
	start_receiver r bob --muc "$room" --count 1
	xsend --muc -m "hello room" --trace "$BATS_TEST_TMPDIR/trace" "$room"
	assert_status 0
	wait_receiver r
	assert_recv r ".[0].body == \"hello room\" and .[0].type == \"groupchat\" and .[0].from == \"$room/alice\""
	# our self-presence (status 110) came before the message went out, and we left after
	posted=$(assert_posted_after_join "$BATS_TEST_TMPDIR/trace" "$room" alice)
	[ "$(first_line "$BATS_TEST_TMPDIR/trace" "^C: <presence.*type=\"unavailable\"")" -gt "$posted" ] ||
		fail "did not leave the room with unavailable presence"
	grep -q '<history maxstanzas="0"/>' "$BATS_TEST_TMPDIR/trace" || fail "history not suppressed"
}

@test "muc: line mode posts each line to the room after joining, with --nick" {
	local room tag
	room=$(send_room)
	tag=$(send_tag)
	start_receiver r bob --muc "$room" --count 3
	printf '%s 1\n%s 2\n%s 3\n' "$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l --muc --nick logbot --trace "$BATS_TEST_TMPDIR/trace" "$room" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag 1\", \"$tag 2\", \"$tag 3\"] and all(.[]; .from == \"$room/logbot\")"
	assert_posted_after_join "$BATS_TEST_TMPDIR/trace" "$room" logbot >/dev/null
}

@test "muc: the xmpp:ROOM?join form needs no --muc; users and rooms mix" {
	local room
	room=$(send_room)
	start_receiver r bob --muc "$room" --count 1
	start_receiver d dave --count 1
	xsend -m "to both" "xmpp:$room?join" "dave@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	wait_receiver d
	assert_recv r '.[0].body == "to both" and .[0].type == "groupchat"'
	assert_recv d '.[0].body == "to both" and .[0].type == "chat"'
}

@test "muc: a new room is created as an instant room; --no-create refuses instead" {
	local room
	room=$(send_room)
	xsend --muc --no-create -m "nobody here" "$room"
	assert_status 69
	assert_stderr_matches "room $room does not exist.*--no-create"
	# Created by xmpp-send, which stays in it (line mode, input still open):
	# another user joins the room xmpp-send made (--no-create: bob's join
	# fails if it creates the room instead), which a locked room refuses.
	local fifo=$BATS_TEST_TMPDIR/in pid i
	mkfifo "$fifo"
	setsid timeout -k 5 60 "$XU_BIN/xmpp-send" -v -l --muc "$room" <"$fifo" \
		>"$BATS_TEST_TMPDIR/send.out" 2>"$BATS_TEST_TMPDIR/send.err" 3>&- &
	pid=$!
	_xu_track "$pid"
	exec 4>"$fifo"
	for i in $(seq 1 200); do
		grep -q 'created room' "$BATS_TEST_TMPDIR/send.err" && break
		sleep 0.05
	done
	grep -q 'created room' "$BATS_TEST_TMPDIR/send.err" || { exec 4>&-; fail "no 'created room': $(cat "$BATS_TEST_TMPDIR/send.err")"; }
	start_receiver r bob --muc "$room" --no-create --count 1
	echo "posted after bob joined" >&4
	exec 4>&-
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "xmpp-send exited $rc: $(cat "$BATS_TEST_TMPDIR/send.err")"
	wait_receiver r
	assert_recv r '.[0].body == "posted after bob joined"'
}

@test "muc: a members-only room without membership: clear error, exit 77; a member gets in" {
	local room
	room=$(send_room)
	owner_room "$room" --members-only --member "dave@$XU_DOMAIN"
	xsend --muc -m "let me in" "$room"
	assert_status 77
	# (ejabberd adds its own text after the condition)
	assert_stderr_matches "cannot join $room as 'alice': registration-required( \([^)]*\))? \(the room is members-only"
	xsend -l --muc "$room" < <(echo "lines too")
	assert_status 77
	assert_stderr_matches 'registration-required'
	xsend -a dave --muc -m "member here" "$room"
	assert_status 0
}

@test "muc: a password-protected room: --room-password-file lets us in, without it exit 77" {
	local room
	room=$(send_room)
	export ROOM_SECRET="s3cret-$RANDOM"
	owner_room "$room" --password-env ROOM_SECRET
	xsend --muc -m "no password" "$room"
	assert_status 77
	assert_stderr_matches 'not-authorized.*room-password-file'
	printf '%s\n' "$ROOM_SECRET" >"$BATS_TEST_TMPDIR/roompw"
	chmod 600 "$BATS_TEST_TMPDIR/roompw"
	xsend --muc --room-password-file "$BATS_TEST_TMPDIR/roompw" -m "with password" \
		--trace "$BATS_TEST_TMPDIR/trace" "$room"
	assert_status 0
	# the room echoed the post back to us: it was accepted (ejabberd's MUC
	# may echo after the round trip that ends the run: Prosody only)
	if [ "$XU_SERVER" = prosody ]; then
		grep -q "^S: <message.*from=\"$room/alice\".*<body>with password</body>" "$BATS_TEST_TMPDIR/trace" ||
			fail "no echo of the post from the room"
	fi
}

@test "muc: nickname in use: retries once with a suffix" {
	local room
	room=$(send_room)
	start_receiver r bob --muc "$room" --nick alice --count 1
	xsend --muc -m "second alice" "$room"
	assert_status 0
	assert_stderr_matches "nickname 'alice' is in use"
	wait_receiver r
	assert_recv r ".[0].body == \"second alice\" and (.[0].from | startswith(\"$room/alice_\"))"
}

@test "muc: --receipt and user-only options are refused for rooms" {
	local room
	room=$(send_room)
	xsend --muc --receipt -m x "$room"
	assert_status 64
	assert_stderr_matches 'receipt'
	xsend --muc -t chat -m x "$room"
	assert_status 64
	xsend --nick bot -m x "bob@$XU_DOMAIN"
	assert_status 64
	assert_stderr_matches 'for rooms'
	xsend --muc -m x "not-a-room"
	assert_status 64
}
