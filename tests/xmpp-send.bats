#!/usr/bin/env bats
# xmpp-send against the suite's throwaway Prosody (tests/helpers/prosody.bash).
# Delivery is always checked on the receiving side (tests/bin/receiver.py + jq);
# failures are checked by exit status, message, and what the server saw.

load helpers/common
load helpers/dns

setup() {
	xu_require_tool xmpp-send
}

teardown() {
	xu_common_teardown
}

# SASL payloads must not reach a trace. assert_no_sasl_payload FILE fails if FILE
# holds the base64 of SCRAM's client-first message for alice ("n,,n=alice,r" or,
# with channel binding, "y,,n=alice,r" / "p=..."), of the client-final message
# ("c=biws,r=" / "c=eSws,r="), or any <auth>/<response> element whose text looks
# like a real base64 payload.
assert_no_sasl_payload() {
	local f=$1 p
	# a missing or empty trace would pass every check below
	grep -q '<auth' "$f" || fail "$f holds no <auth> (no trace?): the checks would prove nothing"
	for p in "$(printf 'n,,n=alice,r' | base64)" "$(printf 'y,,n=alice,r' | base64)" \
		"$(printf 'c=biws,r=' | base64)" "$(printf 'c=eSws,r=' | base64)"; do
		! grep -qF -- "$p" "$f" || fail "SASL payload ($p...) in $f"
	done
	! grep -Eq '<(auth|response)( [^>]*)?>[A-Za-z0-9+/]{16,}=*</' "$f" ||
		fail "an unredacted <auth>/<response> payload in $f: $(grep -Eo '<(auth|response)[^<]*' "$f" | head -3)"
}

# ---------------------------------------------------------------- usage

@test "--help exits 0 and prints usage on stdout" {
	xsend --help
	assert_status 0
	[[ "$output" =~ [Uu]sage:.*xmpp-send ]] || fail "no 'Usage: xmpp-send' line"
	[[ "$output" == *"--tls-trust-file"* ]] || fail "--help does not list --tls-trust-file"
	xsend -h
	assert_status 0
}

@test "-V/--version prints the version and exits 0" {
	xsend --version
	assert_status 0
	[[ "$output" =~ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "no version number"
	xsend -V
	assert_status 0
}

@test "usage errors exit 64: unknown option, no recipient, bad values" {
	local -a cases=(
		"--no-such-option bob@xu.test"
		"-a alice -m hi"
		"-a alice --tls sometimes -m hi bob@xu.test"
		"-a alice -t groupchat -m hi bob@xu.test"
		"-a alice -t bogus -m hi bob@xu.test"
		"-a alice --port 70000 -m hi bob@xu.test"
		"-a alice --port abc -m hi bob@xu.test"
		"-a alice --timeout soon -m hi bob@xu.test"
	)
	local c bad=""
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # split on purpose
		xsend $c </dev/null
		[ "$status" = 64 ] || bad="$bad
  xmpp-send $c -> $status (want 64)"
		[ -n "$stderr" ] || bad="$bad
  xmpp-send $c -> no message on stderr"
	done
	[ -z "$bad" ] || fail "usage errors:$bad"
}

@test "no option takes a password: --password is refused" {
	xsend -a alice --password secret -m hi "bob@$XU_DOMAIN"
	assert_status 64
}

@test "empty body exits 65 (-m '' and empty stdin)" {
	xsend -a alice -m '' "bob@$XU_DOMAIN"
	assert_status 65
	xsend -a alice "bob@$XU_DOMAIN" </dev/null
	assert_status 65
}

# ---------------------------------------------------------------- delivery

@test "delivers a chat message with subject to another account" {
	start_receiver bob bob --count 1
	xsend -a alice -t chat -s "Status report" -m "Hello Bob" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob 'length == 1'
	assert_recv bob '.[0].body == "Hello Bob" and .[0].subject == "Status report" and .[0].type == "chat"'
	assert_recv bob '(.[0].from | startswith("alice@xu.test/")) and .[0].to == "bob@xu.test"'
}

@test "-t normal and -t headline set the message type" {
	start_receiver bob bob --count 2
	xsend -a alice -t normal -m "a normal one" "bob@$XU_DOMAIN"
	assert_status 0
	xsend -a alice -t headline -m "a headline" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob 'map(select(.body == "a normal one"))[0] | (.type // "normal") == "normal"'
	assert_recv bob 'map(select(.body == "a headline"))[0].type == "headline"'
}

@test "several recipients each get the message" {
	start_receiver bob bob --count 1
	start_receiver carol carol --count 1
	xsend -a alice -m "to both of you" "bob@$XU_DOMAIN" "carol@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	wait_receiver carol
	assert_recv bob '.[0].body == "to both of you" and .[0].to == "bob@xu.test"'
	assert_recv carol '.[0].body == "to both of you" and .[0].to == "carol@xu.test"'
}

@test "body from stdin: multi-line text arrives intact" {
	start_receiver bob bob --count 1
	printf 'line one\nline two\n\n  indented line four\n' >"$BATS_TEST_TMPDIR/body"
	xsend -a alice "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/body"
	assert_status 0
	wait_receiver bob
	# a trailing newline may or may not be kept; everything else must be
	assert_recv bob '.[0].body | sub("\n+$"; "") == "line one\nline two\n\n  indented line four"'
}

@test "UTF-8 and XML special characters arrive unchanged" {
	start_receiver bob bob --count 1
	local body='Grüße — 你好 🎉 <b>bold</b> & "quotes" '\''apos'\'' ]]>'
	xsend -a alice -m "$body" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	[ "$(recv_jq bob '.[0].body')" = "$body" ] || fail "body changed: $(recv_jq bob '.[0].body')"
}

@test "ANSI escapes and control characters are sanitised, text kept, session not dropped" {
	start_receiver bob bob --count 2
	prosody_log_mark
	xsend -a alice -s $'subj \e[1mbold\e[0m' -m $'plain \e[31mred\e[0m text\x01\x08 end' "bob@$XU_DOMAIN"
	# exit 0 means the server answered the final ping: the stream survived
	assert_status 0
	xsend -a alice -m $'second \e]0;title\a one' "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	# no C0 control character (ESC included) other than tab and newline arrived
	assert_recv bob 'length == 2 and all(.[]; (.body + (.subject // "")) | explode | all(. >= 32 or . == 9 or . == 10))'
	assert_recv bob '.[0].body | contains("plain") and contains("red") and contains("text") and contains("end")'
	assert_recv bob '.[0].subject | contains("subj") and contains("bold")'
	assert_recv bob '.[1].body | contains("second") and contains("one")'
	assert_log_count 0 'not-well-formed|Stream error|stream error' "the server saw a broken stream"
}

@test "a message to an offline account is stored and delivered later" {
	xsend -a alice -m "while you were away" "erin@$XU_DOMAIN"
	assert_status 0
	start_receiver erin erin --count 1 --offline
	wait_receiver erin
	assert_recv erin 'any(.[]; .body == "while you were away" and .delay != null)'
}

@test "a bounced message (no such user) is a failure: 69 (the man page's EXIT STATUS)" {
	start_receiver bob bob --count 1
	xsend -a alice -t chat -m "hello?" "nobody@$XU_DOMAIN" "bob@$XU_DOMAIN"
	[ "$status" != 0 ] || fail "exit 0 although the server bounced the message to nobody@$XU_DOMAIN"
	assert_status 69
	assert_stderr_matches "1 of 2 message\(s\) bounced; first: .*nobody@xu\.test"
	# the good recipient still got it
	wait_receiver bob
	assert_recv bob '.[0].body == "hello?"'
}

@test "-r sets the resource the message comes from" {
	start_receiver bob bob --count 1
	xsend -a alice -r xu-testres -m "from a resource" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].from == "alice@xu.test/xu-testres"'
}

@test "--tls direct delivers over the direct TLS port" {
	start_receiver bob bob --count 1
	xsend -a alice --tls direct --port "$XU_TLS_PORT" -m "over direct TLS" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "over direct TLS"'
}

@test "command-line -j/--host/--port work with the password from XMPP_PASSWORD" {
	start_receiver bob bob --count 1
	XMPP_PASSWORD=$XU_ALICE_PASSWORD xsend -C "$(nopw_config)" -j "alice@$XU_DOMAIN" \
		--host 127.0.0.1 --port "$XU_C2S_PORT" --tls-trust-file "$XU_CA" -m "by options" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "by options"'
}

# ---------------------------------------------------------------- authentication

@test "wrong password: exit 77, and no retry storm (at most 2 failed logins)" {
	printf 'not-the-password' >"$BATS_TEST_TMPDIR/pw"
	prosody_log_mark
	xsend -C "$(nopw_config)" -a alice --password-file "$BATS_TEST_TMPDIR/pw" -m hi "bob@$XU_DOMAIN"
	assert_status 77
	[ -n "$stderr" ] || fail "no message on stderr"
	sleep 0.3 # let Prosody write its log
	local attempts failures
	if xu_has_server_log; then
		attempts=$(log_count 'XU-AUTH-ATTEMPT')
		failures=$(log_count 'XU-AUTH-FAILURE')
		echo "# auth attempts: $attempts, failures: $failures"
		[ "$failures" -ge 1 ] || fail "the server saw no failed login"
		[ "$attempts" -le 2 ] || fail "$attempts login attempts for one run"
	fi
	assert_log_count 0 'XU-AUTH-SUCCESS'
	[ "$elapsed_ms" -lt 10000 ] || fail "took ${elapsed_ms} ms"
}

@test "password sources: --password-file works" {
	printf '%s' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	chmod 600 "$BATS_TEST_TMPDIR/pw"
	prosody_log_mark
	xsend -C "$(nopw_config)" -a alice --password-file "$BATS_TEST_TMPDIR/pw" -m "pw file" "bob@$XU_DOMAIN"
	assert_status 0
	assert_log_count 1 'XU-AUTH-SUCCESS user=alice'
}

@test "password sources: a password file ending in a newline works (first line)" {
	printf '%s\nsecond line\n' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	chmod 600 "$BATS_TEST_TMPDIR/pw"
	xsend -C "$(nopw_config)" -a alice --password-file "$BATS_TEST_TMPDIR/pw" -m "pw file nl" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "password sources: --passwordeval works" {
	printf '%s\n' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	prosody_log_mark
	xsend -C "$(nopw_config)" -a alice --passwordeval "cat '$BATS_TEST_TMPDIR/pw'" -m "pw eval" "bob@$XU_DOMAIN"
	assert_status 0
	assert_log_count 1 'XU-AUTH-SUCCESS user=alice'
}

@test "password sources: a failing --passwordeval is an error, not an empty password" {
	prosody_log_mark
	xsend -C "$(nopw_config)" -a alice --passwordeval "exit 3" -m "pw eval" "bob@$XU_DOMAIN"
	[ "$status" != 0 ] || fail "exit 0"
	[ "$status" != 124 ] || fail "hung"
	assert_log_count 0 'XU-AUTH-ATTEMPT' "logged in with a password from a failed command"
}

@test "password sources: XMPP_PASSWORD works" {
	prosody_log_mark
	XMPP_PASSWORD=$XU_ALICE_PASSWORD xsend -C "$(nopw_config)" -a alice -m "pw env" "bob@$XU_DOMAIN"
	assert_status 0
	assert_log_count 1 'XU-AUTH-SUCCESS user=alice'
}

@test "password sources: --password-file comes before XMPP_PASSWORD" {
	printf '%s' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	XMPP_PASSWORD=wrong-one xsend -C "$(nopw_config)" -a alice --password-file "$BATS_TEST_TMPDIR/pw" \
		-m "order" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "an account's password is not sent for another JID given with -j" {
	# the default config holds alice's password; -j names bob
	prosody_log_mark
	xsend -a alice -j "bob@$XU_DOMAIN" -m hi "carol@$XU_DOMAIN"
	[ "$status" != 0 ] || fail "exit 0: logged in as bob with alice's configured password?"
	[ "$status" != 124 ] || fail "hung"
	sleep 0.3
	assert_log_count 0 'XU-AUTH-ATTEMPT' "a login was attempted"
}

@test "no password source and no terminal: fails without hanging" {
	xsend -C "$(nopw_config)" -a alice -m "no password" "bob@$XU_DOMAIN"
	[ "$status" != 0 ] || fail "exit 0 without a password"
	[ "$status" != 124 ] || fail "hung waiting for a password"
}

# ---------------------------------------------------------------- TLS

@test "untrusted server certificate: exit 77 and no credentials sent" {
	prosody_log_mark
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -C "$(noca_config)" -a alice --trace "$BATS_TEST_TMPDIR/trace" -m hi "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches 'certificate|verif|trust'
	if grep -q '^C: .*<auth' "$BATS_TEST_TMPDIR/trace"; then
		fail "an <auth> element was sent to an untrusted server"
	fi
	sleep 0.3
	assert_log_count 0 'XU-AUTH-ATTEMPT' "the server saw a login attempt"
}

@test "untrusted server certificate over direct TLS: exit 77, no credentials sent" {
	prosody_log_mark
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -C "$(noca_config)" -a alice --tls direct --port "$XU_TLS_PORT" -m hi "bob@$XU_DOMAIN"
	assert_status 77
	sleep 0.3
	assert_log_count 0 'XU-AUTH-ATTEMPT' "the server saw a login attempt"
}

@test "--tls-fingerprint: the right one (openssl format, with colons) is accepted" {
	start_receiver bob bob --count 1
	xsend -a alice --tls-fingerprint "$XU_SERVER_FINGERPRINT" -m "pinned" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "pinned"'
}

@test "--tls-fingerprint: lowercase hex without colons is accepted" {
	local fp
	fp=$(printf '%s' "$XU_SERVER_FINGERPRINT" | tr -d : | tr '[:upper:]' '[:lower:]')
	xsend -a alice --tls-fingerprint "$fp" -m "pinned lc" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "--tls-fingerprint: a wrong one is rejected with 77 even though the CA is trusted" {
	local wrong
	wrong=$(printf 'x' | openssl dgst -sha256 -r | cut -c1-64)
	xsend -a alice --tls-fingerprint "$wrong" -m "pinned wrong" "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches 'fingerprint|pin'
}

@test "--tls-fingerprint: a wrong one stops before credentials are sent" {
	local wrong
	wrong=$(printf 'y' | openssl dgst -sha256 -r | cut -c1-64)
	prosody_log_mark
	xsend -a alice --tls-fingerprint "$wrong" --trace "$BATS_TEST_TMPDIR/trace" -m "pinned wrong" "bob@$XU_DOMAIN"
	assert_status 77
	if grep -q '^C: .*<auth' "$BATS_TEST_TMPDIR/trace"; then
		fail "an <auth> element was sent to a server whose certificate does not match the pin"
	fi
	sleep 0.3
	assert_log_count 0 'XU-AUTH-ATTEMPT' "the server saw a login attempt"
}

@test "--tls-fingerprint alone (no trust file, empty system store) is enough, like msmtp" {
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -C "$(noca_config)" -a alice --tls-fingerprint "$XU_SERVER_FINGERPRINT" -m "pin only" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "--tls-fingerprint that is not a SHA-256 hex string is a usage error" {
	xsend -a alice --tls-fingerprint "abc123" -m hi "bob@$XU_DOMAIN"
	assert_status 64
}

@test "--tls-insecure conflicts with --tls-fingerprint (usage error)" {
	xsend -a alice --tls-insecure --tls-fingerprint "$XU_SERVER_FINGERPRINT" -m hi "bob@$XU_DOMAIN"
	assert_status 64
}

@test "--tls-insecure connects to an untrusted server, with a warning on stderr" {
	start_receiver bob bob --count 1
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -C "$(noca_config)" -a alice --tls-insecure -m "insecure but delivered" "bob@$XU_DOMAIN"
	assert_status 0
	assert_stderr_matches 'insecure|not verif|warning'
	wait_receiver bob
	assert_recv bob '.[0].body == "insecure but delivered"'
}

@test "--tls off against a server requiring encryption: exit 76, clear message, no credentials" {
	prosody_log_mark
	xsend -a alice --tls off --trace "$BATS_TEST_TMPDIR/trace" -m hi "bob@$XU_DOMAIN"
	assert_status 76
	assert_stderr_matches 'encrypt|tls'
	if grep -q '^C: .*<auth' "$BATS_TEST_TMPDIR/trace"; then
		fail "credentials were sent in clear"
	fi
	sleep 0.3
	assert_log_count 0 'XU-AUTH-ATTEMPT' "the server saw a login attempt"
}

# ---------------------------------------------------------------- network failures

@test "unknown host: exit 68" {
	# the suite's DNS stub answers NXDOMAIN: the machine's resolver (maybe
	# unreachable, which is 75) plays no part
	xu_dns_stub
	XU_WRAP=("${XU_DNS_WRAP[@]}")
	xsend -a alice --host nonexistent.invalid -m hi "bob@$XU_DOMAIN"
	assert_status 68
	assert_stderr_matches 'nonexistent\.invalid'
	grep -q '^DNS nonexistent.invalid ' "$XU_DNS_LOG" || fail "the stub was not asked"
}

@test "host name lookup that gets no answer (resolver unreachable): 75, not 68" {
	# a resolv.conf naming a loopback address where nothing answers DNS
	xu_dns_stub
	printf 'nameserver 127.0.0.254\noptions timeout:1 attempts:1\n' >"$BATS_TEST_TMPDIR/resolv.conf"
	XU_WRAP=("${XU_DNS_WRAP[@]}")
	xsend -a alice --host nonexistent.invalid -m hi "bob@$XU_DOMAIN"
	assert_status 75
	assert_stderr_matches 'nonexistent\.invalid'
}

@test "closed port: exit 69" {
	start_sink closed
	xsend -a alice --port "$SINK_PORT" -m hi "bob@$XU_DOMAIN"
	assert_status 69
	[ "$elapsed_ms" -lt 5000 ] || fail "took ${elapsed_ms} ms"
}

@test "server that accepts and never answers: exit 75 within --timeout" {
	start_sink silent
	xsend -a alice --port "$SINK_PORT" --timeout 2 -m hi "bob@$XU_DOMAIN"
	assert_status 75
	[ "$elapsed_ms" -lt 5000 ] || fail "--timeout 2 took ${elapsed_ms} ms"
	[ "$elapsed_ms" -ge 1500 ] || fail "gave up after ${elapsed_ms} ms, before --timeout 2"
}

@test "silent server with direct TLS (blocked in the TLS handshake): exit 75 within --timeout" {
	start_sink silent
	xsend -a alice --tls direct --port "$SINK_PORT" --timeout 2 -m hi "bob@$XU_DOMAIN"
	assert_status 75
	[ "$elapsed_ms" -lt 5000 ] || fail "--timeout 2 took ${elapsed_ms} ms"
}

# ---------------------------------------------------------------- secrets

@test "config file with a password that others can read: exit 78 naming the file" {
	local f=$BATS_TEST_TMPDIR/shared.conf
	cp "$XU_CONFIG" "$f"
	chmod 644 "$f"
	xsend -C "$f" -a alice -m hi "bob@$XU_DOMAIN"
	assert_status 78
	[[ "$stderr" == *"$f"* ]] || fail "stderr does not name $f"
	chmod 640 "$f"
	xsend -C "$f" -a alice -m hi "bob@$XU_DOMAIN"
	assert_status 78
}

@test "--trace: transcript with C:/S: lines, password and SASL payloads redacted" {
	xsend -a alice --trace "$BATS_TEST_TMPDIR/trace" -m "traced body" "bob@$XU_DOMAIN"
	assert_status 0
	local t=$BATS_TEST_TMPDIR/trace
	grep -q '^C: ' "$t" || fail "no C: lines"
	grep -q '^S: ' "$t" || fail "no S: lines"
	grep -q '^C: .*traced body' "$t" || fail "the sent message is not in the trace"
	grep -q '^S: .*stream:features\|^S: .*<features' "$t" || fail "received stream features not in the trace"
	grep -q '^C: .*<auth' "$t" || fail "the <auth> element is not in the trace at all"
	! grep -qF "$XU_ALICE_PASSWORD" "$t" || fail "password in the trace"
	assert_no_sasl_payload "$t"
	! grep -qF "$XU_ALICE_PASSWORD" <<<"$stderr$output" || fail "password on stderr/stdout"
}

@test "--trace: the server's SASL challenge and success are redacted too" {
	# salt, iteration count and server signature in a trace allow an offline
	# dictionary attack on the password: they are SASL payloads like the client's.
	xsend -a alice --trace "$BATS_TEST_TMPDIR/trace" -m "traced" "bob@$XU_DOMAIN"
	assert_status 0
	grep -q '^S: .*<challenge' "$BATS_TEST_TMPDIR/trace" || fail "no <challenge> in the trace at all"
	! grep -Eq '<(challenge|success)( [^>]*)?>[A-Za-z0-9+/]{16,}=*</' "$BATS_TEST_TMPDIR/trace" ||
		fail "unredacted server SASL payload: $(grep -Eo '<(challenge|success)[^<]*' "$BATS_TEST_TMPDIR/trace" | cut -c1-80)"
}

@test "--trace -: transcript on stderr, nothing on stdout, password redacted" {
	xsend -a alice --trace - -m "traced to stderr" "bob@$XU_DOMAIN"
	assert_status 0
	grep -q '^C: ' <<<"$stderr" || fail "no C: lines on stderr"
	grep -q '^S: ' <<<"$stderr" || fail "no S: lines on stderr"
	[ -z "$output" ] || fail "stdout not empty"
	! grep -qF "$XU_ALICE_PASSWORD" <<<"$stderr" || fail "password on stderr"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/stderr"
	assert_no_sasl_payload "$BATS_TEST_TMPDIR/stderr"
}

@test "SCRAM-SHA-256 where the server offers it (ejabberd): used, server signature verified, cached" {
	# Prosody 0.12 offers only SCRAM-SHA-1 (tests/login.bats covers it); the
	# interop ejabberd stores SHA-256 keys (auth_scram_hash: sha256)
	[ "$XU_SERVER_SCRAM" = SCRAM-SHA-256 ] || skip "$XU_SERVER offers only $XU_SERVER_SCRAM"
	local t=$BATS_TEST_TMPDIR/trace log_before=0
	[ -n "${XU_EJABBERD_LOG:-}" ] && log_before=$(wc -l <"$XU_EJABBERD_LOG")
	start_receiver bob bob --count 2
	xsend -a alice --trace "$t" -m "sha-256 cold" "bob@$XU_DOMAIN"
	assert_status 0
	grep -q "^C: <auth [^>]*mechanism='SCRAM-SHA-256'" "$t" || fail "no SCRAM-SHA-256 <auth>: $(grep -o '<auth [^>]*>' "$t")"
	grep -q "^\* SASL SCRAM-SHA-256 succeeded; the server's signature verified$" "$t" ||
		fail "the trace does not say the SCRAM-SHA-256 signature verified: $(grep '^\* SASL' "$t")"
	! grep -q 'PBKDF2 skipped' "$t" || fail "a cache hit on the first login"
	assert_no_sasl_payload "$t"
	# the second run: the 32-byte SHA-256 salted password from the cache
	xsend -a alice --trace "$t.2" -m "sha-256 cached" "bob@$XU_DOMAIN"
	assert_status 0
	grep -q "^\* SCRAM salted password from the cache .*: PBKDF2 skipped$" "$t.2" || fail "no cache hit"
	grep -q "^\* SASL SCRAM-SHA-256 succeeded; the server's signature verified$" "$t.2" ||
		fail "the cached login's signature did not verify"
	wait_receiver bob
	assert_recv bob '[.[].body] == ["sha-256 cold", "sha-256 cached"]'
	# the server's own account of it
	if [ -n "${XU_EJABBERD_LOG:-}" ]; then
		[ "$(tail -n +"$((log_before + 1))" "$XU_EJABBERD_LOG" |
			grep -c "Accepted c2s SCRAM-SHA-256 authentication for alice@$XU_DOMAIN")" = 2 ] ||
			fail "ejabberd's log does not show two SCRAM-SHA-256 logins of alice: $(grep -o 'Accepted c2s [^ ]* authentication for [^ ]*' "$XU_EJABBERD_LOG" | tail -n 4)"
	fi
}

@test "a wrong password's SASL attempts are redacted in the trace too" {
	printf 'wrong-pw-visible' >"$BATS_TEST_TMPDIR/pw"
	xsend -C "$(nopw_config)" -a alice --password-file "$BATS_TEST_TMPDIR/pw" --trace "$BATS_TEST_TMPDIR/trace" \
		-m hi "bob@$XU_DOMAIN"
	assert_status 77
	grep -q '^C: .*<auth' "$BATS_TEST_TMPDIR/trace" || fail "no <auth> in the trace: the checks would prove nothing"
	! grep -qF 'wrong-pw-visible' "$BATS_TEST_TMPDIR/trace" || fail "password in the trace"
	# a PLAIN fallback would carry base64("\0alice\0password")
	! grep -qF "$(printf '\0alice\0wrong-pw-visible' | base64)" "$BATS_TEST_TMPDIR/trace" ||
		fail "PLAIN payload in the trace"
	assert_no_sasl_payload "$BATS_TEST_TMPDIR/trace"
}

@test "the password never appears in ps output while the tool runs" {
	start_sink silent
	printf '%s' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	local nopw pid ps_out i
	nopw=$(nopw_config)
	for src in file env config; do
		case $src in
		file) "$XU_BIN/xmpp-send" -C "$nopw" -a alice --port "$SINK_PORT" --timeout 3 \
			--password-file "$BATS_TEST_TMPDIR/pw" -m hi "bob@$XU_DOMAIN" </dev/null >/dev/null 2>&1 3>&- & ;;
		env) XMPP_PASSWORD=$XU_ALICE_PASSWORD "$XU_BIN/xmpp-send" -C "$nopw" -a alice --port "$SINK_PORT" \
			--timeout 3 -m hi "bob@$XU_DOMAIN" </dev/null >/dev/null 2>&1 3>&- & ;;
		config) "$XU_BIN/xmpp-send" -a alice --port "$SINK_PORT" --timeout 3 \
			-m hi "bob@$XU_DOMAIN" </dev/null >/dev/null 2>&1 3>&- & ;;
		esac
		pid=$!
		_xu_track "$pid"
		sleep 0.5
		kill -0 "$pid" 2>/dev/null || fail "xmpp-send ($src) ended before it could be inspected"
		ps_out=$(ps -ww -eo pid,args)
		grep -q "^ *$pid " <<<"$ps_out" || fail "pid $pid not in ps output"
		! grep -qF "$XU_ALICE_PASSWORD" <<<"$ps_out" || fail "password visible in ps ($src)"
		! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$XU_ALICE_PASSWORD" || fail "password in cmdline ($src)"
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
