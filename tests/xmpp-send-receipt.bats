#!/usr/bin/env bats
# xmpp-send --receipt (XEP-0184), message types, --subject, --thread, --lang, --max-size.

load helpers/common
load helpers/send-stream

@test "receipt: a client that answers receipts: exit 0 once it confirmed" {
	start_receiver r bob --receipts --count 1
	xsend -v --receipt -m "please confirm" "bob@$XU_DOMAIN"
	assert_status 0
	assert_stderr_matches 'confirmed by the recipients'
	wait_receiver r
	assert_recv r '.[0].body == "please confirm" and .[0].receipt_request == true'
}

@test "receipt: a client that does not answer: exit 75 after --timeout, naming the recipient" {
	xu_skip_under_valgrind "the answering client's receipt can miss the deadline under valgrind"
	start_receiver r bob --count 1
	start_receiver d dave --receipts --count 1
	# long enough for dave's client to answer on a loaded machine
	xsend --receipt --timeout 6 -m "anyone?" "bob@$XU_DOMAIN" "dave@$XU_DOMAIN"
	assert_status 75
	assert_stderr_matches "no delivery receipt within 6 s from bob@$XU_DOMAIN \(1 message\)"
	if grep -q "dave@" <<<"$stderr"; then
		fail "dave answered but was named"
	fi
	[ "$elapsed_ms" -lt 12000 ] || fail "took $elapsed_ms ms with --timeout 6"
	wait_receiver r
	wait_receiver d
}

@test "receipt: in line mode every message is confirmed before exit 0" {
	local tag
	tag=$(send_tag)
	start_receiver r bob --receipts --count 3
	printf '%s a\n%s b\n%s c\n' "$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l --receipt "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 0
	wait_receiver r
	assert_recv r 'all(.[]; .receipt_request)'
}

@test "receipt: in line mode one message of three left unconfirmed: 75, not 0" {
	xu_skip_under_valgrind "the answered receipts can miss the deadline under valgrind"
	local tag
	tag=$(send_tag)
	start_receiver r bob --receipts --receipts-skip 2 --count 3
	printf '%s a\n%s b\n%s c\n' "$tag" "$tag" "$tag" >"$BATS_TEST_TMPDIR/in"
	xsend -l --receipt --timeout 6 "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/in"
	assert_status 75
	assert_stderr_matches "no delivery receipt within 6 s from bob@$XU_DOMAIN \(1 message\)"
	wait_receiver r
	assert_recv r "[.[].body] == [\"$tag a\", \"$tag b\", \"$tag c\"]"
}

@test "types, --subject, --thread and --lang reach the recipient" {
	start_receiver r bob --count 3
	xsend -t normal -s "the subject" --thread th-42 --lang de -m "Hallo" --trace "$BATS_TEST_TMPDIR/trace" "bob@$XU_DOMAIN"
	assert_status 0
	grep -q '^C: <message.*xml:lang="de"' "$BATS_TEST_TMPDIR/trace" || fail "no xml:lang"
	xsend -t headline -m "news" "bob@$XU_DOMAIN"
	assert_status 0
	xsend -l -s "per line" "bob@$XU_DOMAIN" < <(echo "line with subject")
	assert_status 0
	wait_receiver r
	# ejabberd leaves out type="normal", which is the default (RFC 6121 5.2.2)
	assert_recv r '(.[0].type == "normal" or .[0].type == null) and .[0].subject == "the subject" and .[0].thread == "th-42" and .[0].body == "Hallo"'
	assert_recv r '.[1].type == "headline" and .[1].body == "news"'
	assert_recv r '.[2].subject == "per line" and .[2].type == "chat"'
	xsend -t fancy -m x "bob@$XU_DOMAIN"
	assert_status 64
	xsend --lang 'not a tag' -m x "bob@$XU_DOMAIN"
	assert_status 64
}

@test "max-size: a long single message is split into parts that arrive in order" {
	start_receiver r bob --count 3
	xsend --max-size 100 -m "$(printf 'ä%.0s' $(seq 1 150))" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	assert_recv r '[.[].body | utf8bytelength] == [100, 100, 100]'
	assert_recv r "[.[].body] | add == \"$(printf 'ä%.0s' $(seq 1 150))\""
}
