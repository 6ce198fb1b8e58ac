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
export XDG_STATE_HOME=$XU_TMP/bench-state SSL_CERT_FILE=$XU_CA
send() { "$1" -C "$XU_CONFIG" -a alice "${@:2}" -m bench "bob@$XU_DOMAIN"; }
measure() { # LABEL BIN ARGS...: prints median wall ms, cpu ms, rss KB
	local label=$1 b=$2 i
	shift 2
	send "$b" "$@" # warm-up (fills the cache when it is on)
	for i in $(seq 1 "$runs"); do
		/usr/bin/time -f '%e %U %S %M' -o "$XU_TMP/t" "$b" -C "$XU_CONFIG" -a alice "$@" -m bench "bob@$XU_DOMAIN"
		cat "$XU_TMP/t"
	done | awk -v l="$label" '{ w[NR] = $1 * 1000; c[NR] = ($2 + $3) * 1000; r[NR] = $4 }
		function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		END { printf "%-28s wall %6.1f ms  cpu %6.1f ms  rss %6.0f KB  (median of %d)\n", l, med(w, NR), med(c, NR), med(r, NR), NR }'
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
instr "cache warm" "$bin/xmpp-send"
instr "--no-sasl-cache" "$bin/xmpp-send" --no-sasl-cache
[ -z "$old" ] || instr "old (branch point)" "$old/xmpp-send"
