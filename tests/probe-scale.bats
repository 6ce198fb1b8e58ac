#!/usr/bin/env bats
# xmpp-probe at scale: many targets in one run, every SRV target
# (--all-targets), and the Prometheus exporter (--serve) scraped by a real
# Prometheus. Targets are the suite's Prosody (STARTTLS and direct TLS
# ports), a second throwaway Prosody, closed ports and silent sockets.
# What is checked is what an operator looks at: the report of each target,
# the exit status, and what Prometheus's query API says.

load helpers/common
load helpers/probe
load helpers/dns

setup_file() {
	probe_prosody_start scale 30 >&3 2>&1 || return 1
}

teardown_file() {
	probe_prosody_stop scale
}

setup() {
	xu_require_tool xmpp-probe
	CONF=$BATS_TEST_TMPDIR/probe.conf
	{
		printf 'defaults\ntls_trust_file %s\ntimeout 10\nwarn_days 0\n\n' "$XU_CA"
		printf 'account alice\njid alice@%s\npassword %s\n\n' "$XU_DOMAIN" "$XU_ALICE_PASSWORD"
		printf 'probe login : alice\ncrit_days 1\n\n'
		printf 'probe quick\ntimeout 2\nno_login on\n'
	} >"$CONF"
	chmod 600 "$CONF"
	SERVE_PIDS=()
}

teardown() {
	local p f
	for p in "${SERVE_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# the exporter's stderr (ASan/UBSan builds report there, at exit)
	for f in "$BATS_TEST_TMPDIR"/serve-*.err; do
		[ -e "$f" ] || continue
		if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
			cat "$f" >&2
			fail "sanitizer report from the exporter"
		fi
	done
	xu_common_teardown
}

probe() {
	xu_run_tool xmpp-probe "$@"
}

assert_json() {
	jq -e "$1" <<<"$output" >/dev/null || fail "JSON check failed: $1"
}

# extra_sink MODE: a sink of its own (start_sink keeps one of each mode per
# test), held by this shell (a sink quits when its parent does); sets XSINK.
extra_sink() {
	local mode=$1 pf=$BATS_TEST_TMPDIR/xsink-$RANDOM$RANDOM.port pid i
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" sink "$mode" --port-file "$pf" \
		>/dev/null 2>&1 </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 100); do
		[ -s "$pf" ] && { XSINK=$(cat "$pf"); return 0; }
		sleep 0.02
	done
	fail "netutil.py sink $mode did not start"
}

# serve ARGS...: the exporter in the background on a free port; sets
# SERVE_URL, SERVE_PID, SERVE_ERR.
serve() {
	local port i
	port=$("$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" free-ports 1)
	SERVE_ERR=$BATS_TEST_TMPDIR/serve-$port.err
	"$XU_BIN/xmpp-probe" --serve "127.0.0.1:$port" "$@" </dev/null >/dev/null 2>"$SERVE_ERR" 3>&- &
	SERVE_PID=$!
	SERVE_PIDS+=("$SERVE_PID")
	SERVE_URL=http://127.0.0.1:$port
	for i in $(seq 1 100); do
		grep -q 'listening on' "$SERVE_ERR" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$SERVE_ERR" >&2
	fail "the exporter did not start"
}

# http URL: sets HTTP_CODE and HTTP_BODY (curl, no proxy from the environment)
http() {
	local out=$BATS_TEST_TMPDIR/http.body
	rm -f "$out"
	HTTP_CODE=$(curl -s --noproxy '*' -m 30 -o "$out" -w '%{http_code}' "$@") || HTTP_CODE=000
	HTTP_BODY=$(cat "$out" 2>/dev/null || true)
}

# ---------------------------------------------------------------- fleets

@test "fleet: 50 targets in one run, each reported right, silent ones bounded by the deadline" {
	local closed1 closed2 silent1 silent2 list=$BATS_TEST_TMPDIR/targets i kind t0 t1
	extra_sink closed
	closed1=$XSINK
	extra_sink closed
	closed2=$XSINK
	extra_sink silent
	silent1=$XSINK
	extra_sink silent
	silent2=$XSINK
	: >"$list"
	echo "# the fleet" >>"$list"
	for i in $(seq 0 49); do
		case $((i % 7)) in
		0 | 1) echo "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN" ;;
		2) echo "xmpps://127.0.0.1:$XU_TLS_PORT/$XU_DOMAIN" ;;
		3) echo "xmpp://127.0.0.1:$PP_C2S_PORT/$XU_DOMAIN" ;;
		4) echo "xmpp://127.0.0.1:$([ $((i % 2)) = 0 ] && echo "$closed1" || echo "$closed2")/$XU_DOMAIN" ;;
		5 | 6) echo "xmpp://127.0.0.1:$([ $((i % 2)) = 0 ] && echo "$silent1" || echo "$silent2")/$XU_DOMAIN" ;;
		esac >>"$list"
		[ $((i % 10)) = 9 ] && echo >>"$list"
	done
	t0=$(_ms_now)
	probe -C "$CONF" --no-login --timeout 3 --parallel 50 --targets "$list" --format json
	t1=$(_ms_now)
	# 14 silent targets, each given 3 s, all at once: far less than 14 x 3 s
	[ $((t1 - t0)) -lt 20000 ] || fail "the run took $((t1 - t0)) ms: silent targets were not bounded"
	# the worst state is critical; the first critical target (closed) gives the code
	assert_status 69
	assert_json 'length == 50'
	for i in $(seq 0 49); do
		case $((i % 7)) in
		0 | 1 | 2 | 3) kind=healthy ;;
		4) kind=closed ;;
		*) kind=silent ;;
		esac
		case $kind in
		healthy) assert_json ".[$i].status == \"ok\" and .[$i].tls.verified == true" ;;
		closed) assert_json ".[$i].status == \"critical\" and (.[$i].stages | map(select(.ok == false)) | .[0].name) == \"tcp\"" ;;
		silent) assert_json ".[$i].status == \"critical\" and (.[$i].stages | map(select(.ok == false)) | .[0].name) == \"stream\" and .[$i].ms >= 2900 and .[$i].ms < 6000" ;;
		esac
		assert_json ".[$i].target == \"$(sed -n "$((i + 2 + i / 10))p" "$list")\""
	done
	[ "$(grep -c '^xmpps://' "$list")" = 7 ] || fail "the list is not what the test meant"
}

@test "several operands: a table, the worst status as exit code; --prometheus labels each target" {
	start_sink closed
	probe -C "$CONF" --no-login "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN" "xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN"
	assert_status 69
	[[ "${lines[0]}" == TARGET* ]] || fail "no table header"
	[[ "${lines[1]}" == "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN "*" OK "* ]] || fail "healthy target not OK"
	[[ "${lines[2]}" == "xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN "*" CRITICAL "* ]] || fail "closed target not CRITICAL"
	[[ "${lines[3]}" == "2 targets: 1 ok, 0 warning, 1 critical, 0 unknown" ]] || fail "no summary"
	probe -C "$CONF" --no-login --prometheus "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN" "xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN"
	assert_status 69
	grep -qx "xmpp_probe_success{target=\"xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN\",domain=\"$XU_DOMAIN\",mode=\"c2s\"} 1" <<<"$output" || fail "no success 1 for the healthy target"
	grep -qx "xmpp_probe_success{target=\"xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN\",domain=\"$XU_DOMAIN\",mode=\"c2s\"} 0" <<<"$output" || fail "no success 0 for the closed one"
	[ "$(grep -c '^# TYPE xmpp_probe_success ' <<<"$output")" = 1 ] || fail "a metric family is written twice"
	if command -v promtool >/dev/null; then
		promtool check metrics <<<"$output" || fail "promtool rejects the output"
	fi
	# the login happens on the account's domain only; another domain says so
	probe -C "$CONF" -a alice --format json "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN" "xmpp://127.0.0.1:$PP_C2S_PORT/other.test"
	assert_json '.[0].bind.jid != null and .[0].status == "ok"'
	assert_json '.[1].findings | any(.code == "login-skipped")'
}

# ---------------------------------------------------------------- every SRV target


@test "--all-targets: both SRV services merged; a failing secondary fails the check and is named" {
	start_sink closed
	with_dns --srv "_xmpp-client._tcp.xu.test=5,10,$XU_C2S_PORT,up.xu.test" \
		--srv "_xmpps-client._tcp.xu.test=10,0,$SINK_PORT,down.xu.test" \
		--a up.xu.test=127.0.0.1 --a down.xu.test=127.0.0.1
	local out=$BATS_TEST_TMPDIR/all.out rc=0
	"${DNS_WRAP[@]}" "$XU_BIN/xmpp-probe" -C /dev/null --tls-trust-file "$XU_CA" --timeout 5 --warn-days 0 \
		--all-targets --nagios "$XU_DOMAIN" >"$out" || rc=$?
	output=$(cat "$out")
	[ "$rc" = 2 ] || fail "exit $rc, want 2 (CRITICAL): $output"
	mapfile -t lines <"$out"
	[[ "${lines[0]}" == "XMPP CRITICAL - 1 of 2 targets critical: xmpps://127.0.0.1:$SINK_PORT/xu.test |"* ]] ||
		fail "the status line does not name the failing target: ${lines[0]}"
	[[ "${lines[1]}" == "xmpp://127.0.0.1:$XU_C2S_PORT/xu.test: OK - "* ]] || fail "primary not OK: ${lines[1]}"
	[[ "${lines[2]}" == "xmpps://127.0.0.1:$SINK_PORT/xu.test: CRITICAL - "* ]] || fail "secondary not CRITICAL: ${lines[2]}"
	rc=0
	"${DNS_WRAP[@]}" "$XU_BIN/xmpp-probe" -C /dev/null --tls-trust-file "$XU_CA" --timeout 5 --warn-days 0 \
		--all-targets --format json "$XU_DOMAIN" >"$out" || rc=$?
	output=$(cat "$out")
	[ "$rc" = 69 ] || fail "exit $rc, want 69 (the worst target's)"
	assert_json 'length == 2'
	assert_json '.[0].srv.host == "up.xu.test" and .[0].srv.service == "_xmpp-client._tcp" and .[0].srv.priority == 5 and .[0].srv.family == "ipv4"'
	assert_json '.[1].srv.host == "down.xu.test" and .[1].srv.service == "_xmpps-client._tcp" and .[1].targets[0].tls == "direct"'
	assert_json '.[0].status == "ok" and .[1].status == "critical"'
}

@test "--all-targets: IPv4 and IPv6 addresses of one SRV target are probed apart" {
	ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || skip "no IPv6 loopback"
	with_dns --srv "_xmpp-client._tcp.xu.test=5,10,$XU_C2S_PORT,up.xu.test" \
		--a up.xu.test=127.0.0.1 --aaaa up.xu.test=::1
	local out=$BATS_TEST_TMPDIR/v6.out rc=0
	"${DNS_WRAP[@]}" "$XU_BIN/xmpp-probe" -C /dev/null --tls-trust-file "$XU_CA" --timeout 5 --warn-days 0 \
		--all-targets --tls starttls --format json "$XU_DOMAIN" >"$out" || rc=$?
	output=$(cat "$out")
	assert_json 'length == 2'
	assert_json '.[0].srv.family == "ipv4" and .[0].status == "ok"'
	# the suite's Prosody listens on 127.0.0.1 only: the IPv6 address is refused
	assert_json ".[1].srv.family == \"ipv6\" and .[1].target == \"xmpp://[::1]:$XU_C2S_PORT/xu.test\" and .[1].status == \"critical\""
	[ "$rc" = 69 ] || fail "exit $rc, want 69: a failing address fails the check"
}

# ---------------------------------------------------------------- the exporter

@test "exporter: a real Prometheus scrapes healthy, closed and silent targets: probe_success 1, 0, 0" {
	command -v prometheus >/dev/null || skip "prometheus is not installed"
	local ports pport silent dir=$BATS_TEST_TMPDIR/prom i n
	start_sink closed
	extra_sink silent
	silent=$XSINK
	serve -C "$CONF" --parallel 4
	ports=$("$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" free-ports 1)
	pport=$ports
	mkdir -p "$dir/data"
	cat >"$dir/prometheus.yml" <<-EOF
		global:
		  scrape_interval: 2s
		  scrape_timeout: 2s
		scrape_configs:
		  - job_name: xmpp
		    metrics_path: /probe
		    static_configs:
		      - targets:
		          - xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN
		          - xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN
		          - xmpp://127.0.0.1:$silent/$XU_DOMAIN
		    relabel_configs:
		      - source_labels: [__address__]
		        target_label: __param_target
		      - source_labels: [__param_target]
		        target_label: instance
		      - target_label: __address__
		        replacement: ${SERVE_URL#http://}
		  - job_name: exporter
		    static_configs:
		      - targets: [${SERVE_URL#http://}]
	EOF
	promtool check config "$dir/prometheus.yml" >/dev/null || fail "bad test config"
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn \
		</dev/null >"$dir/log" 2>&1 3>&- &
	_xu_track $!
	SERVE_PIDS+=("$!")
	# until Prometheus has a sample of each target (scrapes every 2 s)
	for i in $(seq 1 60); do
		http "http://127.0.0.1:$pport/api/v1/query?query=probe_success"
		n=$(jq '.data.result | length' <<<"$HTTP_BODY" 2>/dev/null || echo 0)
		[ "$n" = 3 ] && break
		sleep 0.5
	done
	[ "$n" = 3 ] || { cat "$dir/log" >&2; fail "Prometheus has $n probe_success samples, want 3: $HTTP_BODY"; }
	q() { jq -r --arg i "$1" '.data.result[] | select(.metric.instance == $i) | .value[1]' <<<"$HTTP_BODY"; }
	[ "$(q "xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN")" = 1 ] || fail "healthy: $HTTP_BODY"
	[ "$(q "xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN")" = 0 ] || fail "closed: $HTTP_BODY"
	[ "$(q "xmpp://127.0.0.1:$silent/$XU_DOMAIN")" = 0 ] || fail "silent: $HTTP_BODY"
	# the silent target's probe answered within the scrape timeout: the scrape itself is up
	http "http://127.0.0.1:$pport/api/v1/query?query=up"
	[ "$(q "xmpp://127.0.0.1:$silent/$XU_DOMAIN")" = 1 ] || fail "the silent target's scrape failed (timeout not honoured): $HTTP_BODY"
	# the exporter's own metrics, scraped too (another job: its first
	# scrape may come a little after the probes' under load)
	for i in $(seq 1 20); do
		http "http://127.0.0.1:$pport/api/v1/query?query=xmpp_probe_exporter_probes_total"
		[ "$(jq -r '.data.result[0].metric.module' <<<"$HTTP_BODY")" = default ] && break
		sleep 0.5
	done
	[ "$(jq -r '.data.result[0].metric.module' <<<"$HTTP_BODY")" = default ] || fail "no probes_total: $HTTP_BODY"
}

@test "exporter: promtool accepts /metrics and /probe; the scrape-timeout header bounds a silent probe" {
	command -v promtool >/dev/null || skip "promtool is not installed"
	local silent t0 t1
	extra_sink silent
	silent=$XSINK
	serve -C "$CONF"
	http "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=login"
	[ "$HTTP_CODE" = 200 ] || fail "HTTP $HTTP_CODE: $HTTP_BODY"
	promtool check metrics <<<"$HTTP_BODY" || fail "promtool rejects /probe"
	grep -qx 'probe_success 1' <<<"$HTTP_BODY" || fail "login probe failed: $HTTP_BODY"
	grep -qx 'probe_xmpp_phase_success{phase="bind"} 1' <<<"$HTTP_BODY" || fail "no bind phase: $HTTP_BODY $(cat "$SERVE_ERR")"
	grep -qE '^probe_ssl_earliest_cert_expiry [0-9]+$' <<<"$HTTP_BODY" || fail "expiry not an integer: $HTTP_BODY"
	! grep -q "$XU_ALICE_PASSWORD" <<<"$HTTP_BODY" || fail "the password is in the answer"
	# module timeout 10 s, Prometheus allows 1.5 s: the probe answers before that
	t0=$(_ms_now)
	http -H 'X-Prometheus-Scrape-Timeout-Seconds: 1.5' "$SERVE_URL/probe?target=xmpp://127.0.0.1:$silent/$XU_DOMAIN"
	t1=$(_ms_now)
	[ "$HTTP_CODE" = 200 ] || fail "HTTP $HTTP_CODE"
	grep -qx 'probe_success 0' <<<"$HTTP_BODY" || fail "silent target not failed: $HTTP_BODY"
	[ $((t1 - t0)) -lt 1500 ] || fail "answered after $((t1 - t0)) ms, past the scrape timeout"
	promtool check metrics <<<"$HTTP_BODY" || fail "promtool rejects a failed /probe"
	http "$SERVE_URL/metrics"
	promtool check metrics <<<"$HTTP_BODY" || fail "promtool rejects /metrics"
	grep -qx 'xmpp_probe_exporter_probes_total{module="login"} 1' <<<"$HTTP_BODY" || fail "login not counted: $HTTP_BODY"
	grep -qx 'xmpp_probe_exporter_probes_failed_total{module="default"} 1' <<<"$HTTP_BODY" || fail "failure not counted"
	grep -qx 'xmpp_probe_exporter_probes_in_flight 0' <<<"$HTTP_BODY" || fail "no in-flight gauge"
	! grep -q "$XU_ALICE_PASSWORD" <<<"$HTTP_BODY" || fail "the password is in /metrics"
}

@test "exporter: --parallel bounds the probes; waiting for a slot counts against the scrape timeout" {
	local t0 t1 a=$BATS_TEST_TMPDIR/a.out b=$BATS_TEST_TMPDIR/b.out
	extra_sink silent
	serve -C "$CONF" --parallel 1
	t0=$(_ms_now)
	local pa pb
	curl -s --noproxy '*' -m 10 -H 'X-Prometheus-Scrape-Timeout-Seconds: 2' -o "$a" "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XSINK/$XU_DOMAIN" 3>&- &
	pa=$!
	curl -s --noproxy '*' -m 10 -H 'X-Prometheus-Scrape-Timeout-Seconds: 2' -o "$b" "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XSINK/a.$XU_DOMAIN" 3>&- &
	pb=$!
	wait "$pa" "$pb" || true
	t1=$(_ms_now)
	grep -qx 'probe_success 0' "$a" && grep -qx 'probe_success 0' "$b" || fail "not two failed probes: $(cat "$a" "$b")"
	# one at a time, yet both answered within the 2 s Prometheus allows
	[ $((t1 - t0)) -lt 2500 ] || fail "the second probe answered after $((t1 - t0)) ms"
	http "$SERVE_URL/metrics"
	grep -qx 'xmpp_probe_exporter_probes_total{module="default"} 2' <<<"$HTTP_BODY" || fail "not 2 probes: $HTTP_BODY"
}

@test "exporter: 400 for malformed requests and unknown modules, 403 outside --allow-target" {
	serve -C "$CONF" --allow-target "xmpp://127.0.0.1:*/$XU_DOMAIN"
	local u
	for u in "/probe" "/probe?target=" "/probe?target=a%40b" "/probe?target=xmpp://h/x.test" \
		"/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=nope"; do
		http "$SERVE_URL$u"
		[ "$HTTP_CODE" = 400 ] || fail "$u: HTTP $HTTP_CODE, want 400"
		[ "$(wc -l <<<"$HTTP_BODY")" = 1 ] && [ -n "$HTTP_BODY" ] || fail "$u: not a one-line reason: $HTTP_BODY"
	done
	[[ "$HTTP_BODY" == "unknown module 'nope'" ]] || fail "unknown module: $HTTP_BODY"
	http "$SERVE_URL/probe?target=example.org"
	[ "$HTTP_CODE" = 403 ] || fail "a target outside --allow-target: HTTP $HTTP_CODE"
	http "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=quick"
	[ "$HTTP_CODE" = 200 ] && grep -qx 'probe_success 1' <<<"$HTTP_BODY" || fail "an allowed target: HTTP $HTTP_CODE $HTTP_BODY"
}

@test "exporter: SIGHUP with a broken config keeps serving the old one; a good one is loaded; SIGTERM stops" {
	serve -C "$CONF"
	printf '\nprobe broken\nno_such_key 1\n' >>"$CONF"
	kill -HUP "$SERVE_PID"
	for i in $(seq 1 50); do grep -q 'reload failed' "$SERVE_ERR" && break; sleep 0.05; done
	grep -q "reload failed, still serving the previous config: .*probe.conf:[0-9]*: probe module 'broken'" "$SERVE_ERR" || fail "no message: $(cat "$SERVE_ERR")"
	http "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=quick"
	[ "$HTTP_CODE" = 200 ] && grep -qx 'probe_success 1' <<<"$HTTP_BODY" || fail "not serving after a broken reload"
	http "$SERVE_URL/metrics"
	grep -qx 'xmpp_probe_exporter_config_last_reload_successful 0' <<<"$HTTP_BODY" || fail "reload failure not in /metrics"
	# fixed: the new module is there
	sed -i 's/^no_such_key 1$/timeout 3/' "$CONF"
	kill -HUP "$SERVE_PID"
	for i in $(seq 1 50); do grep -q 'config reloaded' "$SERVE_ERR" && break; sleep 0.05; done
	http "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=broken"
	[ "$HTTP_CODE" = 200 ] || fail "the reloaded module is not served: $HTTP_CODE $HTTP_BODY"
	kill -TERM "$SERVE_PID"
	local rc=0
	wait "$SERVE_PID" || rc=$?
	[ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
	grep -q 'stopped' "$SERVE_ERR" || fail "no clean stop"
}

@test "exporter: a request waiting through a reload that removed its module gets 400, the running one its answer" {
	local a=$BATS_TEST_TMPDIR/a.out b=$BATS_TEST_TMPDIR/b.out pa pb i
	extra_sink silent
	printf '\nprobe gone\ntimeout 2\n' >>"$CONF"
	serve -C "$CONF" --parallel 1
	curl -s --noproxy '*' -m 10 -o "$a" "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XSINK/$XU_DOMAIN&module=gone" 3>&- &
	pa=$!
	sleep 0.3
	curl -s --noproxy '*' -m 10 -w '%{http_code}' -o "$b" "$SERVE_URL/probe?target=xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN&module=gone" >"$b.code" 3>&- &
	pb=$!
	sleep 0.3
	sed -i '/^probe gone$/,$d' "$CONF"
	kill -HUP "$SERVE_PID"
	for i in $(seq 1 50); do grep -q 'config reloaded' "$SERVE_ERR" && break; sleep 0.05; done
	wait "$pa" "$pb" || true
	grep -qx 'probe_success 0' "$a" || fail "the running probe got no answer: $(cat "$a")"
	[ "$(cat "$b.code")" = 400 ] && grep -q "unknown module 'gone'" "$b" || fail "the waiting one: $(cat "$b.code") $(cat "$b")"
}

# ---------------------------------------------------------------- node_exporter

@test "the man page's node_exporter recipe records an outage and leaves no temporary file" {
	local dir=$BATS_TEST_TMPDIR/textfile recipe cmd
	mkdir -p "$dir"
	PATH=$XU_BIN:$PATH
	start_sink closed
	# the recipe, as the man page writes it
	recipe=$(sed -n '/^For the node exporter/,/^\.Pp/p' "$XU_TESTS_DIR/../man/xmpp-probe.1" | sed -n 's/^\.Dl //p')
	[[ "$recipe" == *"--output /var/lib/node_exporter/textfile/xmpp.prom"* ]] || fail "recipe not found: $recipe"
	# the same command, pointed at the test's directory, config and targets
	cmd=${recipe//\/var\/lib\/node_exporter\/textfile/$dir}
	cmd=${cmd//-a monitor/-C $CONF -a alice}
	run sh -c "${cmd//example.org/xmpp://127.0.0.1:$XU_C2S_PORT/$XU_DOMAIN}"
	[ "$status" = 0 ] || fail "healthy: exit $status: $output"
	grep -q '^xmpp_probe_success{.*} 1$' "$dir/xmpp.prom" || fail "no success 1: $(cat "$dir/xmpp.prom")"
	run sh -c "${cmd//example.org/xmpp://127.0.0.1:$SINK_PORT/$XU_DOMAIN}"
	[ "$status" != 0 ] || fail "a failed probe exited 0"
	grep -q '^xmpp_probe_success{.*} 0$' "$dir/xmpp.prom" || fail "the outage is not recorded: $(cat "$dir/xmpp.prom")"
	[ "$(ls "$dir")" = xmpp.prom ] || fail "files left behind: $(ls "$dir")"
}
