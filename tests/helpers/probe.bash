# shellcheck shell=bash
# Extra servers for tests/xmpp-probe.bats, beside the suite's Prosody:
#
#   probe_prosody_start NAME DAYS
#       a second throwaway Prosody for $XU_DOMAIN with s2s enabled and a
#       certificate from the suite's CA (XU_CA/XU_CA_KEY) valid for DAYS days.
#       Sets PP_DIR, PP_C2S_PORT, PP_S2S_PORT, PP_CERT. Stopped by
#       probe_prosody_stop NAME, or by a watchdog when the test run is gone.
#       PP_SSL_EXTRA (e.g. 'protocol = "tlsv1_2";') goes into its ssl table,
#       PP_LOG_LEVEL (default info) is its log level.
#   with_dns ARGS...
#       the DNS stub (probe_peer dns ARGS: --srv, --a, --aaaa) on a random
#       loopback address; sets DNS_WRAP, a command prefix that runs a
#       command in a private mount namespace whose resolv.conf names it.
#   probe_peer NAME ARGS...
#       tests/bin/probe-peer.py in the background (a scripted server: silent,
#       connection manager, ...); sets PEER_PORT once it listens.

_probe_prosody_config() {
	local dir=$1
	cat >"$dir/prosody.cfg.lua" <<-EOF
		$([ "$(id -u)" = 0 ] && echo 'run_as_root = true')
		pidfile = "$dir/prosody.pid"
		data_path = "$dir/data"
		log = { { levels = { min = "${PP_LOG_LEVEL:-info}" }, to = "file", filename = "$dir/prosody.log" } }
		interfaces = { "127.0.0.1" }
		local_interfaces = { "127.0.0.1" }
		c2s_ports = { $PP_C2S_PORT }
		s2s_ports = { $PP_S2S_PORT }
		s2s_interfaces = { "127.0.0.1" }
		component_ports = { }
		http_ports = { }
		https_ports = { }
		c2s_require_encryption = true
		s2s_require_encryption = true
		s2s_secure_auth = false
		allow_registration = false
		authentication = "internal_hashed"
		storage = "internal"
		certificates = "$dir/certs"
		ssl = { ${PP_SSL_EXTRA:-} certificate = "$dir/certs/$XU_DOMAIN.crt"; key = "$dir/certs/$XU_DOMAIN.key"; }
		modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping"; "posix"; }
		VirtualHost "$XU_DOMAIN"
	EOF
}

# _probe_prosody_bound DIR PID: 0 once this Prosody has bound its c2s and s2s
# ports (its own log says so: another suite's Prosody serves xu.test too and
# might be the one answering a probe of the port), 2 when a port was taken,
# 1 when it died or took too long.
_probe_prosody_bound() {
	local dir=$1 pid=$2 i
	for i in $(seq 1 300); do
		grep -q 'Failed to open server port' "$dir/prosody.log" 2>/dev/null && return 2
		grep -q "Activated service 'c2s' on .*:$PP_C2S_PORT\$" "$dir/prosody.log" 2>/dev/null &&
			grep -q "Activated service 's2s' on .*:$PP_S2S_PORT\$" "$dir/prosody.log" 2>/dev/null &&
			return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

probe_prosody_start() {
	local name=$1 days=$2 dir ports pid attempt rc
	XU_OWNER_PID=${XU_OWNER_PID:-$$}
	dir=$XU_TMP/probe-$name
	mkdir -p "$dir/certs" "$dir/data"
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$dir/certs/$XU_DOMAIN.key" -out "$dir/certs/$XU_DOMAIN.csr" \
		-subj "/CN=$XU_DOMAIN" >/dev/null 2>&1 || return 1
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s\n' \
		"$XU_DOMAIN" >"$dir/certs/ext"
	# -set_serial: leave the suite's CA directory (its serial file) alone
	openssl x509 -req -in "$dir/certs/$XU_DOMAIN.csr" -CA "$XU_CA" -CAkey "$XU_CA_KEY" \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days "$days" \
		-extfile "$dir/certs/ext" -out "$dir/certs/$XU_DOMAIN.crt" >/dev/null 2>&1 || return 1
	# free ports were only free a moment ago: on a conflict, pick again
	for attempt in 1 2 3 4 5; do
		ports=$("$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" free-ports 2) || return 1
		read -r PP_C2S_PORT PP_S2S_PORT <<<"$ports"
		_probe_prosody_config "$dir"
		: >"$dir/prosody.log"
		prosody --config "$dir/prosody.cfg.lua" -F </dev/null >"$dir/stdout" 2>&1 3>&- &
		pid=$!
		echo "$pid" >"$dir/bgpid"
		rc=0
		_probe_prosody_bound "$dir" "$pid" || rc=$?
		[ "$rc" = 0 ] && break
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		if [ "$rc" != 2 ] || [ "$attempt" = 5 ]; then
			tail -n 20 "$dir/prosody.log" "$dir/stdout" >&2
			return 1
		fi
	done
	# gone with its directory (probe_prosody_stop) or with the test run
	(
		trap '' HUP INT
		while kill -0 "$XU_OWNER_PID" 2>/dev/null && [ -d "$dir" ]; do sleep 2; done
		kill "$pid" 2>/dev/null
	) </dev/null >/dev/null 2>&1 3>&- &
	if ! "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" wait-xmpp 127.0.0.1 "$PP_C2S_PORT" "$XU_DOMAIN" 10; then
		tail -n 20 "$dir/prosody.log" "$dir/stdout" >&2
		return 1
	fi
	PP_DIR=$dir
	PP_CERT=$dir/certs/$XU_DOMAIN.crt
	export PP_DIR PP_CERT PP_C2S_PORT PP_S2S_PORT
}

probe_prosody_stop() {
	local pid dir=$XU_TMP/probe-$1 i
	pid=$(cat "$dir/bgpid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -rf "$dir"
}

probe_peer() {
	local name=$1 pf pid i
	shift
	pf=$BATS_TEST_TMPDIR/peer-$name.port
	rm -f "$pf"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/probe-peer.py" --port-file "$pf" "$@" \
		>"$BATS_TEST_TMPDIR/peer-$name.log" 2>&1 </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 100); do
		if [ -s "$pf" ]; then
			PEER_PORT=$(cat "$pf")
			return 0
		fi
		sleep 0.02
	done
	cat "$BATS_TEST_TMPDIR/peer-$name.log" >&2
	fail "probe-peer.py $name did not start"
}

# with_dns: run the probe in a private mount namespace whose resolv.conf names the
# suite's DNS stub (helpers/dns.bash, which the test file loads).
with_dns() {
	xu_dns_stub "$@"
	DNS_WRAP=("${XU_DNS_WRAP[@]}")
}
