#!/usr/bin/env bats
# xmpp-probe against the suite's throwaway Prosody, a second Prosody (s2s on,
# a certificate that expires in 3 days), and scripted peers for what no real
# server here does (a connection manager, a silent server, DNS with SRV).
# What is checked is what a user or a monitoring system would look at: the
# JSON fields, the exit status, the Nagios line, the metrics.

load helpers/common
load helpers/probe
load helpers/dns

setup_file() {
	# one second server for the whole file (s2s, short-lived certificate)
	probe_prosody_start exp 3 >&3 2>&1 || return 1
}

teardown_file() {
	probe_prosody_stop exp
}

setup() {
	xu_require_tool xmpp-probe
	# a config without accounts: probing without credentials
	NOACC=$BATS_TEST_TMPDIR/noacc.conf
	write_config "$NOACC" </dev/null
	# no defaults at all
	BARE=/dev/null
}

teardown() {
	xu_common_teardown
}

probe() {
	xu_run_tool xmpp-probe "$@"
}

# jq over the last JSON output: fails with the output shown when FILTER is not true.
assert_json() {
	jq -e "$1" <<<"$output" >/dev/null || fail "JSON check failed: $1"
}

# The seconds-since-epoch of a certificate's notAfter.
cert_end() {
	date -d "$(openssl x509 -noout -enddate -in "$1" | sed 's/^notAfter=//')" +%s
}

# ---------------------------------------------------------------- usage

@test "--help exits 0 and lists the options; --version exits 0" {
	probe --help
	assert_status 0
	[[ "$output" == *"Usage: xmpp-probe"* ]] || fail "no usage line"
	[[ "$output" == *"--nagios"* && "$output" == *"--prometheus"* ]] || fail "options missing"
	probe --version
	assert_status 0
	[[ "$output" =~ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "no version"
}

@test "usage errors exit 64 with a message; with --nagios they are UNKNOWN (3)" {
	local -a cases=(
		"--mode nope xu.test"
		"--format yaml xu.test"
		"xmpp://h/xu.test"
		"xmpp://h:99999/xu.test"
		"http://h:1/xu.test"
		"--warn-ms nostage:5 xu.test"
		"--crit-ms fast xu.test"
		"--warn-days -1 xu.test"
		"--mode component 127.0.0.1"
		"--mode cm --component cm1 127.0.0.1"
		"user@xu.test"
		"--mode s2s"
	)
	local c bad=""
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # split on purpose
		probe -C "$NOACC" $c
		[ "$status" = 64 ] || bad="$bad
  xmpp-probe $c -> $status (want 64)"
		[ -n "$stderr" ] || bad="$bad
  xmpp-probe $c -> no message"
	done
	[ -z "$bad" ] || fail "usage errors:$bad"
	probe -C "$NOACC" --nagios --mode nope xu.test
	assert_status 3
	[[ "${lines[0]}" == "XMPP UNKNOWN - "* ]] || fail "no UNKNOWN status line"
	probe -C "$NOACC" --prometheus --nagios xu.test
	assert_status 3
	[[ "${lines[0]}" == "XMPP UNKNOWN - "*"exclude each other" ]] || fail "no UNKNOWN line for --nagios --prometheus"
	probe -C "$NOACC"
	assert_status 64
	probe -a alice other.test
	assert_status 64
	[[ "$stderr" == *"is not on other.test"* ]] || fail "no message about the account's domain"
}

@test "-h and --version to a full standard output exit 74" {
	local rc=0
	"$XU_BIN/xmpp-probe" -h >/dev/full 2>/dev/null || rc=$?
	[ "$rc" = 74 ] || fail "-h >/dev/full: exit $rc"
	rc=0
	"$XU_BIN/xmpp-probe" --version >/dev/full 2>/dev/null || rc=$?
	[ "$rc" = 74 ] || fail "--version >/dev/full: exit $rc"
}

@test "-j on another domain than the probed one: not a silent OK, a login-skipped warning" {
	probe -C "$NOACC" --warn-days 0 -j alice@other.test --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.status == "warning" and (.findings | any(.code == "login-skipped" and (.message | test("alice@other.test"))))'
	assert_json '.bind == null'
	probe -C "$NOACC" --warn-days 0 -j alice@other.test --nagios "$XU_DOMAIN"
	assert_status 1
	[[ "${lines[0]}" == "XMPP WARNING - "*"not logging in"* ]] || fail "no WARNING naming the skipped login"
	probe -C "$NOACC" --warn-days 0 -j alice@other.test --no-login --format json "$XU_DOMAIN"
	assert_json '.status == "ok" and (.findings | all(.code != "login-skipped"))'
}

@test "every long option of --help is in the man page and the bash, zsh and fish completions" {
	local root=$XU_TESTS_DIR/.. opt missing=""
	probe --help
	assert_status 0
	for opt in $(grep -oE -- '--[a-z0-9-]+' <<<"$output" | sort -u); do
		grep -qF -- "${opt#--}" "$root/man/xmpp-probe.1" || missing="$missing man:$opt"
		grep -qF -- "$opt" "$root/completions/bash/xmpp-probe" || missing="$missing bash:$opt"
		grep -qF -- "${opt#--}" "$root/completions/zsh/_xmpp-probe" || missing="$missing zsh:$opt"
		grep -qE -- "-l ${opt#--}( |$)" "$root/completions/fish/xmpp-probe.fish" || missing="$missing fish:$opt"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
}

# ---------------------------------------------------------------- without credentials

@test "no credentials: JSON lists STARTTLS required before TLS and SCRAM after it, and no login" {
	prosody_log_mark
	probe -C "$NOACC" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.domain == "xu.test" and .mode == "c2s" and (.status == "ok" or .status == "warning")'
	assert_json '.features.pre_tls | any(.name == "starttls" and .ns == "urn:ietf:params:xml:ns:xmpp-tls" and .required == true)'
	assert_json '.starttls.offered == true and .starttls.required == true'
	assert_json '.features.post_tls | any(.name == "mechanisms" and (.values | index(env.XU_SERVER_SCRAM)))'
	assert_json '.sasl.mechanisms | any(startswith("SCRAM-"))'
	assert_json '.sasl.mechanisms_pre_tls == []'
	assert_json '[.stages[].name] == ["tcp","stream","features","starttls","tls","stream_tls","features_tls"]'
	assert_json '.stages | all(.ok == true and (.ms | type) == "number" and .ms >= 0)'
	assert_json '.targets == [.targets[0]] and .targets[0].source == "cli" and .targets[0].ok == true'
	assert_json '.stream.version == "1.0" and .stream.from == "xu.test" and (.stream.id | length > 0)'
	assert_json '.sasl.used == null and .bind == null'
	assert_log_count 0 'XU-AUTH-ATTEMPT' "the probe tried to log in"
}

@test "no credentials: the certificate's days left, dates, names and SHA-256 match openssl's view" {
	local end now days
	probe -C "$NOACC" --format json "$XU_DOMAIN"
	assert_status 0
	end=$(cert_end "$XU_SERVER_CERT")
	now=$(date +%s)
	days=$(((end - now) / 86400))
	assert_json ".tls.cert.days_left == $days"
	assert_json ".tls.cert.expiry_timestamp == $end"
	assert_json ".tls.cert.sha256 == \"$XU_SERVER_FINGERPRINT\""
	assert_json '.tls.cert.subject == "CN=xu.test" and .tls.cert.issuer == "CN=xmpputils test CA"'
	assert_json '.tls.cert.san | index("xu.test") and index("*.xu.test")'
	assert_json '.tls.verified == true and .tls.cert.verified == true and .tls.verify_error == null'
	assert_json '.tls.mode == "starttls" and (.tls.version | startswith("TLSv1.")) and (.tls.cipher | length > 0)'
	assert_json '.tls.chain | length >= 1'
	assert_json ".tls.chain[0].sha256 == \"$XU_SERVER_FINGERPRINT\""
}

@test "--format xml carries the same content as JSON" {
	local xml=$BATS_TEST_TMPDIR/out.xml
	probe -C "$NOACC" --format xml "$XU_DOMAIN"
	assert_status 0
	printf '%s\n' "$output" >"$xml"
	xmllint --noout "$xml" || fail "not well-formed XML"
	[ "$(xmllint --xpath 'string(//*[local-name()="cert"][1]/*[local-name()="sha256"])' "$xml")" = "$XU_SERVER_FINGERPRINT" ] ||
		fail "no certificate fingerprint in the XML"
	xmllint --xpath '//*[local-name()="pre_tls"]/*[local-name()="feature"][*[local-name()="name"]="starttls"]/*[local-name()="required"][.="true"]' "$xml" >/dev/null ||
		fail "starttls required is not in the XML"
	[ "$(xmllint --xpath 'count(//*[local-name()="stages"]/*[local-name()="stage"])' "$xml")" = 7 ] ||
		fail "not 7 stages in the XML"
}

@test "text output: one stage a line, findings marked, a status line" {
	probe -C "$NOACC" --warn-days 365 "$XU_DOMAIN"
	assert_status 0
	grep -Eq '^  tls +ok +[0-9.]+ ms  TLSv1' <<<"$output" || fail "no aligned tls stage line"
	grep -Eq '^  ! WARNING +the certificate expires in [0-9]+ days' <<<"$output" || fail "no marked finding"
	grep -Eq '^Status: WARNING' <<<"$output" || fail "no status line"
}

@test "an untrusted certificate: tls.verified false, exit 77, no credentials sent" {
	prosody_log_mark
	XMPP_PASSWORD=$XU_ALICE_PASSWORD SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent \
		probe -C "$BARE" -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$XU_C2S_PORT" --format json "$XU_DOMAIN"
	assert_status 77
	assert_json '.tls.verified == false and (.tls.verify_error | length > 0) and .status == "critical"'
	assert_json '.stages | any(.name == "tls" and .ok == false)'
	assert_json '.features.post_tls | length > 0'
	assert_log_count 0 'XU-AUTH-ATTEMPT' "credentials were sent to an untrusted server"
}

@test "--tls-fingerprint alone (no CA) verifies the server by its pin" {
	SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent \
		probe -C "$BARE" --host 127.0.0.1 --port "$XU_C2S_PORT" --tls-fingerprint "$XU_SERVER_FINGERPRINT" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.tls.verified == true and .tls.cert.chain_ok == false'
}

@test "--tls direct probes the direct-TLS port" {
	probe -C "$NOACC" --tls direct --port "$XU_TLS_PORT" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.tls.mode == "direct" and .tls.verified == true and .targets[0].tls == "direct"'
	assert_json '[.stages[].name] == ["tcp","tls","stream","features"]'
	assert_json '.features.pre_tls == [] and (.sasl.mechanisms | index(env.XU_SERVER_SCRAM))'
}

# ---------------------------------------------------------------- with credentials

@test "with credentials: SASL mechanism, bound JID, ping ms, disco features, version" {
	probe -a alice --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.sasl.ok == true and (.sasl.used | startswith("SCRAM-"))'
	assert_json '.bind.jid | startswith("alice@xu.test/")'
	assert_json '(.ping.ms | type) == "number" and .ping.ms > 0'
	assert_json '.disco.features | index("urn:xmpp:ping")'
	assert_json '.disco.identities | any(.category == "server" and .type == "im")'
	assert_json ".version.name == \"$XU_SERVER_SOFTWARE\""
	assert_json '.features.post_auth | any(.name == "bind" and .ns == "urn:ietf:params:xml:ns:xmpp-bind")'
	assert_json '.features.post_auth | any(.name == "session" and .optional == true)'
	assert_json '[.stages[].name] | contains(["sasl","bind","ping","disco","version","close"])'
	assert_json '.stages | all(.ok == true)'
}

@test "wrong password: --nagios CRITICAL (2), otherwise exit 77; password never in the trace" {
	local pwf=$BATS_TEST_TMPDIR/wrong.pw conf=$BATS_TEST_TMPDIR/wrong.conf trace=$BATS_TEST_TMPDIR/trace
	printf 'wrong-password-%s\n' "$RANDOM" >"$pwf"
	chmod 600 "$pwf"
	write_config "$conf" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		password_file $pwf
	EOF
	probe -C "$conf" -a alice --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" == "XMPP CRITICAL - "*"not-authorized"* ]] || fail "no CRITICAL line naming the failure"
	[[ "${lines[0]}" == *"| time="* ]] || fail "no perfdata"
	probe -C "$conf" -a alice --trace "$trace" --format json "$XU_DOMAIN"
	assert_status 77
	assert_json '.sasl.ok == false and (.sasl.error | test("not-authorized")) and .status == "critical"'
	assert_json '.stages[-1].name == "sasl" and .stages[-1].ok == false'
	! grep -qF "$(cat "$pwf")" "$trace" || fail "the password is in the trace"
	grep -q '^C: <auth .*>\[redacted\]</auth>' "$trace" || fail "no redacted <auth> in the trace"
}

@test "--trace -: the raw stream inspection and the login, C:/S: lines, on stderr" {
	probe -a alice --trace - --format json "$XU_DOMAIN"
	assert_status 0
	jq -e . <<<"$output" >/dev/null || fail "stdout is not only the JSON report"
	grep -q "^C: <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" <<<"$stderr" || fail "no STARTTLS in the trace"
	grep -q '^S: .*<proceed' <<<"$stderr" || fail "no proceed in the trace"
	grep -q '^\* TLS established: TLSv1' <<<"$stderr" || fail "no TLS event"
	grep -q '^C: <iq .*urn:xmpp:ping' <<<"$stderr" || fail "no ping in the trace"
	! grep -qF "$XU_ALICE_PASSWORD" <<<"$stderr" || fail "the password is in the trace"
}

# ---------------------------------------------------------------- failures

@test "closed port: Nagios CRITICAL (2); plain exit 69" {
	start_sink closed
	probe -C "$NOACC" --port "$SINK_PORT" --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" == "XMPP CRITICAL - connection refused"* ]] || fail "no CRITICAL line"
	probe -C "$NOACC" --port "$SINK_PORT" --format json "$XU_DOMAIN"
	assert_status 69
	assert_json '.targets[0].ok == false and (.targets[0].error | test("refused")) and .status == "critical"'
}

@test "a server that accepts TCP and never answers: CRITICAL within --timeout" {
	local bound=4500
	# valgrind's start-up alone takes seconds: the deadline still holds, the margin does not
	[ "${XU_VALGRIND:-0}" != 1 ] || bound=15000
	start_sink silent
	probe -C "$NOACC" --port "$SINK_PORT" --timeout 2 --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" == "XMPP CRITICAL - timed out"* ]] || fail "no CRITICAL timeout line"
	[ "$elapsed_ms" -lt "$bound" ] || fail "took ${elapsed_ms} ms with --timeout 2"
	probe -C "$NOACC" --port "$SINK_PORT" --timeout 2 --tls direct "$XU_DOMAIN"
	assert_status 75
	[ "$elapsed_ms" -lt "$bound" ] || fail "took ${elapsed_ms} ms with --timeout 2 (TLS handshake)"
}

@test "-6 against an IPv4-only host name: cannot resolve, exit 68" {
	probe -C "$NOACC" -6 --host 127.0.0.1 --port "$XU_C2S_PORT" "$XU_DOMAIN"
	assert_status 68
	probe -C "$NOACC" -4 --host localhost --port "$XU_C2S_PORT" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.targets[0].address == "127.0.0.1:'"$XU_C2S_PORT"'"'
}

# ---------------------------------------------------------------- thresholds

@test "a certificate that expires in 3 days: Nagios CRITICAL (2) with perfdata" {
	probe -C "$NOACC" --port "$PP_C2S_PORT" --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" =~ ^XMPP\ CRITICAL\ -\ the\ certificate\ expires\ in\ 2\ days ]] || fail "no CRITICAL expiry line"
	[[ "${lines[0]}" =~ \|\ time=[0-9.]+s\;\;\;0\; ]] || fail "no time perfdata"
	[[ "${lines[0]}" == *" cert_days=2;14:;3:;;"* ]] || fail "no cert_days perfdata"
	[[ "${lines[0]}" =~ \ tls=[0-9.]+s ]] || fail "no per-stage perfdata"
	probe -C "$NOACC" --port "$PP_C2S_PORT" --nagios --warn-days 21 --crit-days 1 "$XU_DOMAIN"
	assert_status 1
	[[ "${lines[0]}" == "XMPP WARNING - "* && "${lines[0]}" == *" cert_days=2;21:;1:;;"* ]] || fail "not WARNING with 21/1"
	probe -C "$NOACC" --port "$PP_C2S_PORT" --format json "$XU_DOMAIN"
	assert_status 1
	assert_json '.tls.cert.days_left == 2 and .status == "critical"'
	assert_json '.findings | any(.code == "cert-expiry" and .severity == "critical")'
}

@test "expectations: --expect-mechanism, --forbid-mechanism, --expect-feature, --crit-ms per stage" {
	probe -C "$NOACC" --warn-days 0 --expect-mechanism "$XU_SERVER_SCRAM" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.status == "ok" and .findings == []'
	probe -C "$NOACC" --warn-days 0 --expect-mechanism SCRAM-SHA-512 --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" == *"SCRAM-SHA-512 is not offered"* ]] || fail "no finding for the missing mechanism"
	probe -C "$NOACC" --warn-days 0 --forbid-mechanism PLAIN --format json "$XU_DOMAIN"
	assert_status 1
	assert_json '.findings | any(.code == "forbid-mechanism")'
	probe -a alice --warn-days 0 --expect-feature urn:xmpp:ping --expect-feature urn:xmpp:sm:3 "$XU_DOMAIN"
	assert_status 0
	probe -a alice --warn-days 0 --expect-feature urn:example:nothing --format json "$XU_DOMAIN"
	assert_status 1
	assert_json '.findings | any(.code == "expect-feature")'
	probe -C "$NOACC" --warn-days 0 --crit-ms tls:0.001 --warn-ms 600000 --nagios "$XU_DOMAIN"
	assert_status 2
	[[ "${lines[0]}" == "XMPP CRITICAL - tls took "* ]] || fail "no slow-stage finding"
}

# ---------------------------------------------------------------- Prometheus

@test "--prometheus: valid exposition format with the probe's metrics" {
	local prom=$BATS_TEST_TMPDIR/out.prom end
	probe -a alice --prometheus "$XU_DOMAIN"
	assert_status 0
	printf '%s\n' "$output" >"$prom"
	command -v promtool >/dev/null || fail "promtool is not installed (tests/install-deps installs it: Debian's prometheus)"
	promtool check metrics <"$prom" || fail "promtool rejects the metrics"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/promcheck.py" "$prom" || fail "the metrics are not in the exposition format"
	end=$(cert_end "$XU_SERVER_CERT")
	grep -qx 'xmpp_probe_success{domain="xu.test",mode="c2s"} 1' "$prom" || fail "no success metric"
	# the integer, not 2.11150319e+09
	grep -qx "xmpp_cert_expiry_timestamp_seconds{domain=\"xu.test\",mode=\"c2s\"} $end" "$prom" ||
		fail "no certificate expiry metric for $end"
	grep -qx "xmpp_sasl_mechanism_offered{domain=\"xu.test\",mode=\"c2s\",mechanism=\"$XU_SERVER_SCRAM\"} 1" "$prom" || fail "no mechanism metric"
	grep -Eq '^xmpp_probe_duration_seconds\{domain="xu.test",mode="c2s",phase="tls"\} [0-9.e-]+$' "$prom" || fail "no tls duration"
	grep -Eq '^xmpp_ping_duration_seconds\{domain="xu.test",mode="c2s"\} [0-9.e-]+$' "$prom" || fail "no ping duration"
	grep -qx 'xmpp_starttls_required{domain="xu.test",mode="c2s"} 1' "$prom" || fail "no starttls metric"
}

@test "--prometheus on a failure: still valid, success 0, non-zero exit" {
	local prom=$BATS_TEST_TMPDIR/fail.prom
	start_sink closed
	probe -C "$NOACC" --port "$SINK_PORT" --prometheus "$XU_DOMAIN"
	assert_status 69
	printf '%s\n' "$output" >"$prom"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/promcheck.py" "$prom" || fail "invalid metrics on failure"
	grep -qx 'xmpp_probe_success{domain="xu.test",mode="c2s"} 0' "$prom" || fail "success is not 0"
	grep -qx 'xmpp_probe_phase_success{domain="xu.test",mode="c2s",phase="tcp"} 0' "$prom" || fail "tcp phase not failed"
}

# ---------------------------------------------------------------- other modes

@test "s2s mode: dialback and STARTTLS offered, certificate reported, no credentials" {
	probe -a alice --mode s2s --port "$PP_S2S_PORT" --warn-days 0 --crit-days 0 --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.mode == "s2s" and .status == "ok"'
	assert_json '.features.pre_tls | any(.name == "dialback" and .ns == "urn:xmpp:features:dialback")'
	assert_json '.starttls.required == true and .s2s.dialback == true and (.s2s.sasl_external | type) == "boolean"'
	assert_json ".tls.verified == true and .tls.cert.expiry_timestamp == $(cert_end "$PP_CERT")"
	assert_json '.sasl.used == null and .bind == null'
}

@test "component mode: the right secret is accepted, a wrong one is critical (77 / Nagios 2)" {
	local good=$BATS_TEST_TMPDIR/good.secret bad=$BATS_TEST_TMPDIR/bad.secret
	printf '%s\n' "$XU_COMPONENT_SECRET" >"$good"
	printf 'not-the-secret\n' >"$bad"
	chmod 600 "$good" "$bad"
	probe -C "$NOACC" --timeout 0 --mode component --component "$XU_COMPONENT" --secret-file "$good" --port "$XU_COMPONENT_PORT" --format json 127.0.0.1
	assert_status 0
	assert_json '.mode == "component" and .handshake.ok == true and .status == "ok"'
	assert_json '[.stages[].name] == ["tcp","stream","handshake"] and (.stages[2].ms | type) == "number"'
	probe -C "$NOACC" --mode component --component "$XU_COMPONENT" --secret-file "$bad" --port "$XU_COMPONENT_PORT" --format json 127.0.0.1
	assert_status 77
	assert_json '.handshake.ok == false and (.handshake.error | test("not-authorized")) and .status == "critical"'
	probe -C "$NOACC" --mode component --component "$XU_COMPONENT" --secret-file "$bad" --port "$XU_COMPONENT_PORT" --nagios 127.0.0.1
	assert_status 2
	[[ "${lines[0]}" == "XMPP CRITICAL - the handshake for $XU_COMPONENT was rejected"* ]] || fail "no CRITICAL line"
}

@test "cm mode: Openfire-style connection-manager handshake and client configuration (scripted peer)" {
	local good=$BATS_TEST_TMPDIR/good.secret bad=$BATS_TEST_TMPDIR/bad.secret
	printf 'cm-secret\n' >"$good"
	printf 'wrong\n' >"$bad"
	chmod 600 "$good" "$bad"
	probe_peer cm cm --secret-file "$good"
	probe -C "$NOACC" --mode cm --component cm1 --secret-file "$good" --port "$PEER_PORT" --format json 127.0.0.1
	assert_status 0
	assert_json '.handshake.ok == true and .stream.from == "cm1"'
	assert_json '.cm.configuration | any(.name == "mechanisms" and (.values | index("PLAIN")))'
	assert_json '.cm.configuration | any(.name == "starttls" and .required == true)'
	grep -q '^STREAM ns=http://etherx.jabber.org/streams to=cm1$' "$BATS_TEST_TMPDIR/peer-cm.log" || fail "peer saw no cm stream"
	grep -q '^IQ type=result id=143-23$' "$BATS_TEST_TMPDIR/peer-cm.log" || fail "the configuration iq was not answered"
	probe -C "$NOACC" --mode cm --component cm1 --secret-file "$bad" --port "$PEER_PORT" --format json 127.0.0.1
	assert_status 77
	assert_json '.handshake.ok == false and .status == "critical"'
}

@test "cm mode with STARTTLS: TLS details, then the handshake on the new stream" {
	local good=$BATS_TEST_TMPDIR/good.secret
	printf 'cm-secret\n' >"$good"
	chmod 600 "$good"
	probe_peer cmtls cm --secret-file "$good" --tls "$XU_SERVER_CERT" "$XU_TMP/certs/$XU_DOMAIN.key"
	probe -C "$NOACC" --mode cm --component cm1 --secret-file "$good" --host 127.0.0.1 --port "$PEER_PORT" --format json "$XU_DOMAIN"
	assert_status 0
	assert_json '.starttls.required == true and .tls.verified == true and .handshake.ok == true'
	assert_json ".tls.cert.sha256 == \"$XU_SERVER_FINGERPRINT\""
	grep -q '^TLS TLSv1' "$BATS_TEST_TMPDIR/peer-cmtls.log" || fail "the peer saw no TLS"
	grep -q '^HANDSHAKE OK$' "$BATS_TEST_TMPDIR/peer-cmtls.log" || fail "no handshake after TLS"
}

# ---------------------------------------------------------------- DNS


@test "SRV: targets in priority order, each tried with its result, fallback to the next" {
	start_sink closed
	with_dns --srv "_xmpp-client._tcp.xu.test=5,10,$SINK_PORT,down.xu.test" \
		--srv "_xmpp-client._tcp.xu.test=10,10,$XU_C2S_PORT,up.xu.test" \
		--srv "_xmpps-client._tcp.xu.test=20,0,$XU_TLS_PORT,up.xu.test" \
		--a down.xu.test=127.0.0.1 --a up.xu.test=127.0.0.1
	local out=$BATS_TEST_TMPDIR/srv.json
	local st=0
	"${DNS_WRAP[@]}" "$XU_BIN/xmpp-probe" -C "$BARE" --tls-trust-file "$XU_CA" --format json "$XU_DOMAIN" >"$out" || st=$?
	output=$(cat "$out")
	echo "# status $st: $output"
	# the first target is down (a finding), the login goes through the second
	[ "$st" = 0 ] || fail "exit status $st"
	assert_json '[.targets[] | .source] == ["srv","srv","srv"]'
	assert_json '[.targets[] | .host] == ["down.xu.test","up.xu.test","up.xu.test"]'
	assert_json '.targets[0].ok == false and .targets[1].ok == true and .targets[2].ok == null'
	assert_json '.targets[2].tls == "direct" and .targets[1].tls == "starttls"'
	assert_json '.stages[0].name == "dns" and (.stages[0].detail | test("3 SRV"))'
	assert_json '.findings | any(.code == "target")'
	assert_json '.tls.verified == true'
}

@test "no SRV records: fallback to the domain on 5222" {
	with_dns --a xu.test=127.0.0.1
	local out=$BATS_TEST_TMPDIR/fb.json
	local st=0
	"${DNS_WRAP[@]}" "$XU_BIN/xmpp-probe" -C "$BARE" --timeout 5 --format json "$XU_DOMAIN" >"$out" || st=$?
	output=$(cat "$out")
	echo "# status $st: $output"
	# the fallback target is tried: refused (69) where nothing listens on
	# 127.0.0.1:5222; a machine's own server there would answer instead
	if ! (exec 3<>/dev/tcp/127.0.0.1/5222) 2>/dev/null; then
		[ "$st" = 69 ] || fail "exit status $st"
	fi
	assert_json '.targets[0].source == "fallback" and .targets[0].host == "xu.test" and .targets[0].port == 5222'
	assert_json '.stages[0].name == "dns" and (.stages[0].detail | test("falling back"))'
}
