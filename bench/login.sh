#!/bin/bash
# bench/login.sh BIN_DIR [RUNS] [OLD_BIN_DIR]: one-shot xmpp-send against a
# throwaway Prosody (tests/helpers/prosody.bash), with the SCRAM salted-password
# cache warm and with --no-sasl-cache (and OLD_BIN_DIR's xmpp-send, e.g. a build
# of the branch point, for comparison): median wall, CPU (user+sys), peak RSS
# over RUNS runs, then callgrind instruction counts of one run each.
# Run by hand (issue 12); not a test. Needs valgrind and GNU time.
set -eu
bin=$(cd "$1" && pwd) runs=${2:-20} old=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tests/helpers/prosody.bash
source "$here/../tests/helpers/prosody.bash"
xu_server_setup $$ >/dev/null
trap 'xu_server_teardown >/dev/null 2>&1' EXIT
export XDG_STATE_HOME=$XU_TMP/bench-state SSL_CERT_FILE=$XU_CA XU_TMP
send() { "$1" -C "$XU_CONFIG" -a alice "${@:2}" -m bench "bob@$XU_DOMAIN"; }
measure() { # LABEL BIN ARGS...: median wall ms, mean CPU ms (user+sys), median peak RSS
	local label=$1 b=$2
	shift 2
	send "$b" "$@" # warm-up (fills the cache when it is on)
	/usr/bin/python3 - "$label" "$runs" "$b" -C "$XU_CONFIG" -a alice "$@" -m bench "bob@$XU_DOMAIN" <<-'PY'
		import os, resource, statistics, subprocess, sys, time
		label, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
		wall, cpu, rss = [], [], []
		for _ in range(runs):
		    tf = os.environ["XU_TMP"] + "/rss"
		    t0 = time.monotonic()
		    # GNU time for the peak RSS: a forked Python's own pages would count
		    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd,
		                         stdin=open(os.environ.get("BENCH_STDIN", "/dev/null")))
		    _, status, ru = os.wait4(p.pid, 0)
		    wall.append((time.monotonic() - t0) * 1000)
		    cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
		    rss.append(int(open(tf).read().split()[-1]))
		    if status:
		        sys.exit("%s: exit status %d" % (label, status >> 8))
		print("%-28s wall %6.1f ms  cpu %5.1f ms  rss %6.0f KB  (medians of %d)" % (
		    label, statistics.median(wall), statistics.median(cpu), statistics.median(rss), runs))
	PY
}
go_measure() { # go-sendxmpp 0.5.6, as bench/bench.py runs it (rc file: its password is in there)
	command -v go-sendxmpp >/dev/null || return 0
	printf 'username: alice@%s\npassword: %s\njserver: 127.0.0.1\nport: %s\n' "$XU_DOMAIN" \
		"$(xu_password alice)" "$XU_C2S_PORT" >"$XU_TMP/go.rc"
	chmod 600 "$XU_TMP/go.rc"
	echo bench >"$XU_TMP/go.in"
	BENCH_STDIN=$XU_TMP/go.in /usr/bin/python3 - go-sendxmpp "$runs" go-sendxmpp -f "$XU_TMP/go.rc" "bob@$XU_DOMAIN" <<-'PY'
		import os, statistics, subprocess, sys, time
		label, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
		wall, cpu, rss = [], [], []
		for _ in range(runs):
		    tf = os.environ["XU_TMP"] + "/rss"
		    t0 = time.monotonic()
		    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, stdin=open(os.environ["BENCH_STDIN"]))
		    _, status, ru = os.wait4(p.pid, 0)
		    wall.append((time.monotonic() - t0) * 1000)
		    cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
		    rss.append(int(open(tf).read().split()[-1]))
		print("%-28s wall %6.1f ms  cpu %5.1f ms  rss %6.0f KB  (medians of %d)" % (
		    label, statistics.median(wall), statistics.median(cpu), statistics.median(rss), runs))
	PY
}
instr() { # LABEL BIN ARGS...
	local label=$1 b=$2
	shift 2
	valgrind --tool=callgrind --callgrind-out-file="$XU_TMP/cg.out" "$b" -C "$XU_CONFIG" -a alice "$@" \
		-m bench "bob@$XU_DOMAIN" 2>/dev/null
	printf '%-28s %s instructions\n' "$label" "$(awk '/^summary:/ { print $2 }' "$XU_TMP/cg.out")"
}
measure "cache warm" "$bin/xmpp-send"
measure "--no-sasl-cache" "$bin/xmpp-send" --no-sasl-cache
[ -z "$old" ] || measure "old (branch point)" "$old/xmpp-send"
go_measure
instr "cache warm" "$bin/xmpp-send"
instr "--no-sasl-cache" "$bin/xmpp-send" --no-sasl-cache
[ -z "$old" ] || instr "old (branch point)" "$old/xmpp-send"
