#!/usr/bin/env bats
# The login of issue 12 (lib/xmpp/negotiate.c, lib/xmpp/sasl.c, lib/xmpp/tlsinfo.c): which
# SASL mechanism is used and why, channel binding against a real Prosody,
# what is refused. Prosody's debug log is the independent witness of what the
# client sent (its "Received[c2s_unauthed]: <auth mechanism=...>" lines).

load helpers/common
load helpers/probe

setup() {
	xu_require_tool xmpp-send
	xu_needs_server prosody "reads Prosody's log"
}

teardown() {
	probe_prosody_stop tls12 2>/dev/null || true
	xu_common_teardown
}

# The mechanism of the last <auth> Prosody received in LOG.
prosody_auth_mechanism() {
	grep -o "Received\[c2s_unauthed\]: <auth [^>]*mechanism=['\"][A-Z0-9-]*" "$1" | tail -n 1 | sed "s/.*mechanism=['\"]//"
}

@test "login: xmpp-probe's text report names the mechanism, the verified signature and SM (offered by the suite's Prosody)" {
	[ -x "$XU_BIN/xmpp-probe" ] || skip "no xmpp-probe"
	xu_run_tool xmpp-probe -a alice --warn-days 0 --crit-days 0 "$XU_DOMAIN"
	assert_status 0
	grep -Eq '^  SASL +SCRAM-SHA-1, server signature verified$' <<<"$output" || fail "no SASL line"
	grep -Eq '^  stream mgmt +offered \(XEP-0198\)$' <<<"$output" || fail "no stream management line"
}

@test "login: the default is SCRAM (SHA-1 on Prosody 0.12), the server's signature verified, in the trace" {
	local before
	before=$(wc -l <"$XU_PROSODY_LOG")
	xsend -a alice --trace "$BATS_TEST_TMPDIR/trace" -m "scram" "bob@$XU_DOMAIN"
	assert_status 0
	[ "$(tail -n +"$before" "$XU_PROSODY_LOG" | prosody_auth_mechanism /dev/stdin)" = SCRAM-SHA-1 ] ||
		fail "Prosody did not see SCRAM-SHA-1"
	grep -q "SASL SCRAM-SHA-1 succeeded; the server's signature verified" "$BATS_TEST_TMPDIR/trace" ||
		fail "the trace does not say the signature verified"
}

@test "login: --sasl-mechanisms PLAIN logs in with PLAIN, inside TLS" {
	local before
	before=$(wc -l <"$XU_PROSODY_LOG")
	xsend -a alice --sasl-mechanisms PLAIN --trace "$BATS_TEST_TMPDIR/trace" -m "plain" "bob@$XU_DOMAIN"
	assert_status 0
	[ "$(tail -n +"$before" "$XU_PROSODY_LOG" | prosody_auth_mechanism /dev/stdin)" = PLAIN ] ||
		fail "Prosody did not see PLAIN"
	# the <auth> came after the TLS handshake in the transcript
	awk '/TLS established/ { tls = 1 } /^C: <auth / { exit !tls }' "$BATS_TEST_TMPDIR/trace" ||
		fail "PLAIN before TLS"
}

@test "login: a mechanism the server does not offer: 77 naming what it offers, and no <auth> sent" {
	xsend -a alice --sasl-mechanisms DIGEST-MD5 --trace "$BATS_TEST_TMPDIR/trace" -m "digest" "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches "no SASL mechanism that --sasl-mechanisms allows \(offered: .*SCRAM-SHA-1.*; allowed: DIGEST-MD5\)"
	! grep -q '^C: <auth' "$BATS_TEST_TMPDIR/trace" || fail "an <auth> was sent"
}

@test "login: an unknown --sasl-mechanisms name is a usage error; in the config file a config error with file:line" {
	xsend -a alice --sasl-mechanisms SCRAM-MD4 -m x "bob@$XU_DOMAIN"
	assert_status 64
	assert_stderr_matches "unknown or unsupported SASL mechanism 'SCRAM-MD4'"
	printf 'account a\njid alice@%s\nsasl_mechanisms SCRAM-SHA-1, NTLM\n' "$XU_DOMAIN" >"$BATS_TEST_TMPDIR/cfg"
	chmod 600 "$BATS_TEST_TMPDIR/cfg"
	xsend -C "$BATS_TEST_TMPDIR/cfg" -a a -m x "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches "cfg:3: unknown or unsupported SASL mechanism 'NTLM'"
}

@test "login: against Prosody limited to TLS 1.2, SCRAM-SHA-1-PLUS with tls-unique (Prosody's log shows it)" {
	local pw="tls12-$(_xu_rand 6)"
	PP_SSL_EXTRA='protocol = "tlsv1_2";' PP_LOG_LEVEL=debug probe_prosody_start tls12 2 || fail "second Prosody did not start"
	prosodyctl --config "$PP_DIR/prosody.cfg.lua" register alice "$XU_DOMAIN" "$pw" </dev/null >/dev/null 2>&1 3>&- ||
		fail "cannot register on the second Prosody"
	XMPP_PASSWORD=$pw xsend -C /dev/null -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$PP_C2S_PORT" \
		--tls-trust-file "$XU_CA" --trace "$BATS_TEST_TMPDIR/trace" -m "bound" "alice@$XU_DOMAIN"
	assert_status 0
	[ "$(prosody_auth_mechanism "$PP_DIR/prosody.log")" = SCRAM-SHA-1-PLUS ] ||
		fail "Prosody saw $(prosody_auth_mechanism "$PP_DIR/prosody.log"), not SCRAM-SHA-1-PLUS"
	grep -q "TLS established (TLSv1.2)" "$BATS_TEST_TMPDIR/trace" || fail "not TLS 1.2"
	grep -q "SASL mechanism SCRAM-SHA-1-PLUS with tls-unique" "$BATS_TEST_TMPDIR/trace" || fail "no tls-unique in the trace"
	# and with the -PLUS variants excluded, the plain one
	XMPP_PASSWORD=$pw xsend -C /dev/null -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$PP_C2S_PORT" \
		--tls-trust-file "$XU_CA" --sasl-mechanisms SCRAM-SHA-1 -m "unbound" "alice@$XU_DOMAIN"
	assert_status 0
	[ "$(prosody_auth_mechanism "$PP_DIR/prosody.log")" = SCRAM-SHA-1 ] || fail "--sasl-mechanisms SCRAM-SHA-1 not honoured"
	# xmpp-probe reports what its login used (JSON; XML and Prometheus from the same data)
	if [ -x "$XU_BIN/xmpp-probe" ]; then
		XMPP_PASSWORD=$pw xu_run_tool xmpp-probe -C /dev/null -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$PP_C2S_PORT" \
			--tls-trust-file "$XU_CA" --warn-days 0 --crit-days 0 --format json "$XU_DOMAIN"
		assert_status 0
		[ "$(jq -r '[.sasl.used, .sasl.channel_binding, .sasl.server_signature_verified, .sm.offered] | join(" ")' <<<"$output")" = \
			"SCRAM-SHA-1-PLUS tls-unique true false" ] || fail "probe report: $(jq -c '.sasl, .sm' <<<"$output")"
		XMPP_PASSWORD=$pw xu_run_tool xmpp-probe -C /dev/null -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$PP_C2S_PORT" \
			--tls-trust-file "$XU_CA" --warn-days 0 --crit-days 0 --prometheus "$XU_DOMAIN"
		grep -q '^xmpp_sasl_login_info{.*mechanism="SCRAM-SHA-1-PLUS",channel_binding="tls-unique"} 1$' <<<"$output" ||
			fail "no xmpp_sasl_login_info for SCRAM-SHA-1-PLUS"
		grep -q '^xmpp_sasl_server_signature_verified{.*} 1$' <<<"$output" || fail "no signature metric"
		grep -q '^xmpp_sm_offered{.*} 0$' <<<"$output" || fail "no SM metric (this Prosody has no mod_smacks)"
	fi
}

# ---- the SCRAM salted-password cache and its state directory

# A fresh account on the suite's Prosody: sets CU (JID) and CU_PW.
cache_user() {
	CU_NAME="cache$(_xu_rand 4)" CU_PW="pw1-$(_xu_rand 6)"
	CU="$CU_NAME@$XU_DOMAIN"
	prosodyctl --config "$XU_PROSODY_CONFIG" register "$CU_NAME" "$XU_DOMAIN" "$CU_PW" </dev/null >/dev/null 2>&1 3>&- ||
		fail "cannot register $CU_NAME"
}

cache_send() {
	XMPP_PASSWORD=$CU_PW xsend -C /dev/null -j "$CU" --host 127.0.0.1 --port "$XU_C2S_PORT" \
		--tls-trust-file "$XU_CA" --trace "$BATS_TEST_TMPDIR/trace" "$@" -m "cache" "bob@$XU_DOMAIN"
}

@test "login: the SCRAM salted password is cached (0600, not the password); a hit skips PBKDF2; --no-sasl-cache neither uses nor keeps it" {
	local st=$BATS_TEST_TMPDIR/state/xmpputils entry
	cache_user
	cache_send
	assert_status 0
	! grep -q "PBKDF2 skipped" "$BATS_TEST_TMPDIR/trace" || fail "a cache hit on the first login"
	entry=$(ls "$st"/scram-* 2>/dev/null) || fail "no cache entry in $st"
	[ "$(stat -c %a "$entry")" = 600 ] && [ "$(stat -c %a "$st")" = 700 ] || fail "modes $(stat -c %a "$entry") $(stat -c %a "$st")"
	! grep -qF -- "$CU_PW" "$st"/* || fail "the password is in the state directory"
	grep -Eq '^[0-9a-f]{40}$' "$entry" || fail "no SHA-1 salted password (hex) in the entry"
	! grep -qE '[0-9a-f]{40}' "$BATS_TEST_TMPDIR/trace" || fail "a salted password in the trace"
	cache_send
	assert_status 0
	grep -q "SCRAM salted password from the cache .*: PBKDF2 skipped" "$BATS_TEST_TMPDIR/trace" || fail "no cache hit"
	grep -q "the server's signature verified" "$BATS_TEST_TMPDIR/trace" || fail "the server did not prove itself"
	rm -rf "$BATS_TEST_TMPDIR/state"
	cache_send --no-sasl-cache
	assert_status 0
	[ -z "$(ls "$st"/scram-* 2>/dev/null)" ] || fail "--no-sasl-cache kept an entry"
}

@test "login: after the password changes (prosodyctl passwd) the cached entry is not used and the next run logs in with the password" {
	local st=$BATS_TEST_TMPDIR/state/xmpputils before
	cache_user
	cache_send
	assert_status 0
	before=$(cat "$st"/scram-*)
	CU_PW="pw2-$(_xu_rand 6)"
	printf '%s\n%s\n' "$CU_PW" "$CU_PW" | prosodyctl --config "$XU_PROSODY_CONFIG" passwd "$CU" >/dev/null 2>&1 3>&- ||
		fail "prosodyctl passwd failed"
	cache_send
	assert_status 0
	! grep -q "PBKDF2 skipped" "$BATS_TEST_TMPDIR/trace" || fail "the stale entry was used"
	[ "$(cat "$st"/scram-*)" != "$before" ] || fail "the entry was not replaced"
	cache_send
	assert_status 0
	grep -q "PBKDF2 skipped" "$BATS_TEST_TMPDIR/trace" || fail "the new entry is not used"
}
