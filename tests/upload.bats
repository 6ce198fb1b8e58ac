#!/usr/bin/env bats
# xmpp-send --file: sharing files through the server's HTTP upload service
# (XEP-0363, Prosody's mod_http_file_share on https://localhost:XU_HTTPS_PORT).
# The receiver is slixmpp (tests/bin/receiver.py); every shared file is
# downloaded again (tests/bin/httpget.py) and compared by SHA-256.

load helpers/common

setup() {
	xu_require_tool xmpp-send
}

# for tests that read Prosody's log or use its test hooks (mod_xu_upload_test)
prosody_only() {
	xu_needs_server prosody "$1"
}

teardown() {
	xu_common_teardown
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# fetched URL: "SHA256 SIZE TYPE" of what the upload server returns
fetched() {
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/httpget.py" "$1"
}

# assert_shared NAME FILE [INDEX]: message INDEX (default 0) received by NAME has
# the OOB URL as its body, and the URL serves FILE's bytes.
assert_shared() {
	local name=$1 file=$2 i=${3:-0} url got
	assert_recv "$name" ".[$i].oob_url != null and .[$i].body == .[$i].oob_url"
	url=$(recv_jq "$name" ".[$i].oob_url")
	[[ $url == https://localhost:$XU_HTTPS_PORT/* ]] || fail "unexpected URL $url"
	got=$(fetched "$url") || fail "cannot download $url"
	[ "${got%% *}" = "$(sha "$file")" ] || fail "downloaded $got, file is $(sha "$file")"
	echo "$url"
}

@test "file: a text file reaches a user as body = URL plus XEP-0066 OOB, and downloads unchanged" {
	printf 'nightly report\nall good\n' >"$BATS_TEST_TMPDIR/report.txt"
	start_receiver r bob --count 1
	xsend --trace "$BATS_TEST_TMPDIR/trace" --file "$BATS_TEST_TMPDIR/report.txt" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	url=$(assert_shared r "$BATS_TEST_TMPDIR/report.txt")
	# the slot is in the transcript, its Authorization token is not
	grep -q '<slot xmlns="urn:xmpp:http:upload:0">' "$BATS_TEST_TMPDIR/trace" || fail "no slot in the trace"
	if [ "$XU_SERVER" = prosody ]; then # ejabberd's slots have no header
		grep -q '<header name="Authorization">\[redacted\]</header>' "$BATS_TEST_TMPDIR/trace" ||
			fail "the header is not redacted: $(grep -o '<header[^/]*' "$BATS_TEST_TMPDIR/trace")"
	fi
	! grep -q 'Bearer' "$BATS_TEST_TMPDIR/trace" || fail "the upload token is in the trace"
	[[ $url == */report.txt ]] || fail "the URL does not end in the file name: $url"
	[[ $(fetched "$url") == *" text/plain"* ]] || fail "not served as text/plain: $(fetched "$url")"
}

@test "file: several files in one run (empty, 1 byte, a name with spaces and non-ASCII) with -m: the text first, then one message per file, in order" {
	prosody_only "ejabberd refuses a slot for an empty file (bad-request: size 0)"
	local d=$BATS_TEST_TMPDIR url
	: >"$d/empty.dat"
	printf 'x' >"$d/one.bin"
	printf 'Grüße aus Köln\n' >"$d/Bericht März 2026 – äöü.txt"
	start_receiver r bob --count 4
	xsend -m "tonight's files" --file "$d/empty.dat" --file "$d/one.bin" \
		--file "$d/Bericht März 2026 – äöü.txt" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	assert_recv r '.[0].body == "tonight'"'"'s files" and .[0].oob_url == null'
	assert_shared r "$d/empty.dat" 1 >/dev/null
	assert_shared r "$d/one.bin" 2 >/dev/null
	url=$(assert_shared r "$d/Bericht März 2026 – äöü.txt" 3)
	# the name is announced as given (the service percent-encodes it in the URL)
	"$XU_PYTHON" -c 'import sys, urllib.parse; sys.exit(0 if urllib.parse.unquote(sys.argv[1]).endswith("/Bericht März 2026 – äöü.txt") else 1)' "$url" ||
		fail "the URL does not name the file: $url"
}

@test "file: a 10 MB binary file is streamed up and downloads with the same SHA-256; no progress in a pipe" {
	# random bytes behind a fixed binary start: random ones alone look like a
	# DOS program to libmagic (application/x-dosexec) about once in 70 files
	{ printf 'xmpputils test blob\0\1\2\3'; head -c $((10485760 - 23)) /dev/urandom; } >"$BATS_TEST_TMPDIR/blob.bin"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/blob.bin")" = 10485760 ] || fail "the blob is not 10 MiB"
	start_receiver r bob --count 1
	xsend --file "$BATS_TEST_TMPDIR/blob.bin" "bob@$XU_DOMAIN"
	assert_status 0
	[ -z "$stderr" ] || fail "stderr is not a terminal: expected no output, got: $stderr"
	wait_receiver r
	url=$(assert_shared r "$BATS_TEST_TMPDIR/blob.bin")
	[[ $(fetched "$url") == *" 10485760 application/octet-stream" ]] || fail "size/type: $(fetched "$url")"
}

@test "file: posted to a room, seen by another occupant with the OOB URL" {
	load helpers/send-stream
	local room
	room=$(send_room)
	printf 'graph' >"$BATS_TEST_TMPDIR/graph.txt"
	start_receiver r bob --muc "$room" --count 1
	xsend --muc --file "$BATS_TEST_TMPDIR/graph.txt" "$room"
	assert_status 0
	wait_receiver r
	assert_recv r ".[0].type == \"groupchat\" and .[0].from == \"$room/alice\""
	assert_shared r "$BATS_TEST_TMPDIR/graph.txt" >/dev/null
}

@test "file: several recipients share one upload (one slot, one PUT, the same URL)" {
	prosody_only "counts PUTs in Prosody's log"
	printf 'shared' >"$BATS_TEST_TMPDIR/s.txt"
	start_receiver b bob --count 1
	start_receiver d dave --count 1
	prosody_log_mark
	xsend --file "$BATS_TEST_TMPDIR/s.txt" "bob@$XU_DOMAIN" "dave@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	wait_receiver d
	[ "$(recv_jq b '.[0].oob_url')" = "$(recv_jq d '.[0].oob_url')" ] || fail "different URLs"
	assert_shared b "$BATS_TEST_TMPDIR/s.txt" >/dev/null
	[ "$(log_count 'Firing event: PUT /file_share/')" = 1 ] || fail "expected one PUT, got $(log_count 'Firing event: PUT /file_share/')"
}

@test "file: --receipt waits for the recipient's receipt as for text" {
	printf 'r' >"$BATS_TEST_TMPDIR/r.txt"
	start_receiver b bob --count 1 --receipts
	xsend --receipt --file "$BATS_TEST_TMPDIR/r.txt" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	assert_recv b '.[0].receipt_request == true and .[0].oob_url != null'
}

@test "file: larger than the service's limit: 65 with both sizes, before any slot or PUT" {
	prosody_only "reads Prosody's log"
	truncate -s $((XU_UPLOAD_LIMIT + 1)) "$BATS_TEST_TMPDIR/big.iso"
	prosody_log_mark
	xsend --file "$BATS_TEST_TMPDIR/big.iso" "bob@$XU_DOMAIN"
	assert_status 65
	assert_stderr_matches "$((XU_UPLOAD_LIMIT + 1)) bytes.*limit of $XU_UPLOAD_LIMIT bytes"
	assert_stderr_matches "nothing was uploaded"
	[ "$(log_count 'PUT /file_share/')" = 0 ] || fail "a PUT reached the server"
	[ "$(log_count 'urn:xmpp:http:upload:0.*<request')" = 0 ] || fail "a slot was requested"
}

@test "file: one file too large refuses them all: the small one before it is not uploaded either" {
	prosody_only "reads Prosody's log"
	printf 'small' >"$BATS_TEST_TMPDIR/small.txt"
	truncate -s $((XU_UPLOAD_LIMIT + 1)) "$BATS_TEST_TMPDIR/big.iso"
	prosody_log_mark
	xsend --file "$BATS_TEST_TMPDIR/small.txt" --file "$BATS_TEST_TMPDIR/big.iso" "bob@$XU_DOMAIN"
	assert_status 65
	[ "$(log_count 'PUT /file_share/')" = 0 ] || fail "a PUT reached the server"
}

@test "file: a server without an upload service: 69, clear error, no message sent" {
	prosody_only "a Prosody test hook hides the service"
	printf 'x' >"$BATS_TEST_TMPDIR/x.txt"
	start_receiver r bob --count 1 --timeout 4
	xsend -r xu-no-upload-1 --file "$BATS_TEST_TMPDIR/x.txt" "bob@$XU_DOMAIN"
	assert_status 69
	assert_stderr_matches "offers no HTTP upload service \\(XEP-0363"
	run wait "$XU_RECV_PID_r"
	[ "$status" != 0 ] || fail "a message arrived"
	[ ! -s "$BATS_TEST_TMPDIR/r.json" ] || fail "a message arrived: $(cat "$BATS_TEST_TMPDIR/r.json")"
}

@test "file: the upload server refuses the PUT (a slot whose size does not match): fails naming the HTTP status, nothing shared" {
	prosody_only "a Prosody test hook makes the slot mismatch"
	printf 'mismatch' >"$BATS_TEST_TMPDIR/m.txt"
	prosody_log_mark
	xsend --file "$BATS_TEST_TMPDIR/m.txt" --file-name xu-wrong-size.txt "bob@$XU_DOMAIN"
	assert_status 65
	assert_stderr_matches "HTTP status 413"
	[ "$(log_count 'XU-UPLOAD-TEST slot size changed')" = 1 ] || fail "the test hook did not run"
	[ "$(log_count '<message')" = 0 ] || fail "a message was sent"
}

@test "file: an upload server whose certificate is not trusted: 77, and no byte reached it" {
	prosody_only "reads Prosody's log"
	local conf
	conf=$(noca_config)
	prosody_log_mark
	printf 'secret' >"$BATS_TEST_TMPDIR/secret.txt"
	# the XMPP server is pinned; the upload server (the same CA) is not trusted
	XMPP_PASSWORD=$(xu_password alice) xsend -C "$conf" -a alice --tls-fingerprint "$XU_SERVER_FINGERPRINT" \
		--file "$BATS_TEST_TMPDIR/secret.txt" "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches "upload server localhost:$XU_HTTPS_PORT could not be verified"
	assert_stderr_matches "nothing was uploaded"
	[ "$(log_count 'PUT /file_share/')" = 0 ] || fail "a PUT reached the server"
}

@test "file: standard input, from a pipe and from a redirected file, with --file-name" {
	local d=$BATS_TEST_TMPDIR
	head -c 300000 /dev/urandom >"$d/in.bin"
	start_receiver r bob --count 1
	xsend --file - --file-name "piped log.bin" "bob@$XU_DOMAIN" < <(cat "$d/in.bin")
	assert_status 0
	wait_receiver r
	url=$(assert_shared r "$d/in.bin")
	# (ejabberd replaces the space with '_')
	[[ $url == *"/piped%20log.bin" || $url == *"/piped_log.bin" ]] || fail "name not announced: $url"
	start_receiver r2 bob --count 1
	xsend --file-name redirected.bin --file - "bob@$XU_DOMAIN" <"$d/in.bin"
	assert_status 0
	wait_receiver r2
	assert_shared r2 "$d/in.bin" >/dev/null
}

@test "file: --timeout holds for an upload server that accepts and never answers: 75 in time" {
	prosody_only "a Prosody test hook points the slot at a silent port"
	xu_skip_under_valgrind "a time bound"
	start_sink silent
	printf 'stall' >"$BATS_TEST_TMPDIR/st.txt"
	xsend --timeout 3 --file "$BATS_TEST_TMPDIR/st.txt" --file-name "xu-stall-$SINK_PORT" "bob@$XU_DOMAIN"
	assert_status 75
	assert_stderr_matches "timed out uploading .*--timeout 3"
	[ "$elapsed_ms" -lt 15000 ] || fail "took $elapsed_ms ms"
}

@test "file: progress on a terminal (under script), none with -q" {
	command -v script >/dev/null || skip "script(1) is not installed"
	head -c 2000000 /dev/urandom >"$BATS_TEST_TMPDIR/p.bin"
	local cmd="'$XU_BIN/xmpp-send' --file '$BATS_TEST_TMPDIR/p.bin' bob@$XU_DOMAIN"
	run timeout 60 script -qec "$cmd" /dev/null
	[ "$status" = 0 ] || fail "status $status: $output"
	[[ $output == *"p.bin: "*" of 1.9 MiB (100%), "*"MiB/s"* ]] || fail "no progress: $output"
	run timeout 60 script -qec "$cmd -q" /dev/null
	[ "$status" = 0 ] || fail "status $status: $output"
	[[ $output != *"MiB/s"* ]] || fail "progress despite -q: $output"
}

@test "file: bad input is refused before logging in" {
	prosody_only "reads Prosody's log"
	prosody_log_mark
	xsend --file "$BATS_TEST_TMPDIR/missing.txt" "bob@$XU_DOMAIN"
	assert_status 74
	assert_stderr_matches "cannot open .*missing.txt"
	xsend --file - "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	assert_stderr_matches "needs --file-name"
	xsend --file "$BATS_TEST_TMPDIR" "bob@$XU_DOMAIN"
	assert_status 65
	assert_stderr_matches "is a directory"
	xsend --lines --file /etc/hostname "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	xsend --file-type 'not a type' --file /etc/hostname "bob@$XU_DOMAIN"
	assert_status 64
	xsend --file-name x "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	assert_stderr_matches "needs --file"
	xsend --file - --file-name a --file - --file-name b "bob@$XU_DOMAIN" </dev/null
	assert_status 64
	assert_stderr_matches "only once"
	[ "$(log_count 'XU-AUTH-ATTEMPT')" = 0 ] || fail "it logged in"
}

@test "file: --file-type overrides the type from the content" {
	prosody_only "ejabberd serves files with a type from their extension"
	printf '%s' '{"a": 1}' >"$BATS_TEST_TMPDIR/data"
	start_receiver r bob --count 1
	xsend --file "$BATS_TEST_TMPDIR/data" --file-type application/json "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver r
	url=$(assert_shared r "$BATS_TEST_TMPDIR/data")
	[[ $(fetched "$url") == *" application/json" ]] || fail "type: $(fetched "$url")"
}

@test "file: xmpp-listen --format json gives the oob_url of a shared file" {
	local out=$BATS_TEST_TMPDIR/l.json pid i
	printf 'listen' >"$BATS_TEST_TMPDIR/l.txt"
	"$XU_BIN/xmpp-listen" -v -a dave --format json --kind message -n 1 --timeout 20 \
		>"$out" 2>"$BATS_TEST_TMPDIR/l.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 200); do
		grep -q '; listening$' "$BATS_TEST_TMPDIR/l.err" && break
		sleep 0.05
	done
	xsend --file "$BATS_TEST_TMPDIR/l.txt" "dave@$XU_DOMAIN"
	assert_status 0
	wait "$pid" || fail "xmpp-listen failed: $(cat "$BATS_TEST_TMPDIR/l.err")"
	jq -e '.oob_url != null and .oob_url == .body' "$out" >/dev/null || fail "no oob_url: $(cat "$out")"
}

@test "file: a file that grows while it is read is not shared (a /proc file: size 0, content more)" {
	prosody_only "reads Prosody's log"
	prosody_log_mark
	xsend --file /proc/self/status --file-name status.txt "bob@$XU_DOMAIN"
	assert_status 65
	assert_stderr_matches "grew while it was being read.*not shared"
	[ "$(log_count '<message')" = 0 ] || fail "a message was sent"
}

@test "file: --tls-insecure skips the upload server's verification too, loudly" {
	local conf
	conf=$(noca_config)
	printf 'i' >"$BATS_TEST_TMPDIR/i.txt"
	start_receiver r bob --count 1
	XMPP_PASSWORD=$(xu_password alice) xsend -C "$conf" -a alice --tls-insecure -q \
		--file "$BATS_TEST_TMPDIR/i.txt" "bob@$XU_DOMAIN"
	assert_status 0
	assert_stderr_matches "WARNING: --tls-insecure: the upload server's certificate is NOT verified"
	wait_receiver r
	assert_shared r "$BATS_TEST_TMPDIR/i.txt" >/dev/null
}
