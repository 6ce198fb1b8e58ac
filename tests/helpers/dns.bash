# shellcheck shell=bash
# The suite's own DNS, so that no test depends on the machine's resolver
# (which may be unreachable: then every lookup, .invalid included, fails
# with EAI_AGAIN). `load helpers/dns` after helpers/common.
#
#   xu_dns_stub [--srv NAME=PRIO,WEIGHT,PORT,TARGET]... [--a NAME=IP]...
#       starts tests/bin/probe-peer.py dns on a random loopback address: it
#       answers the records given and NXDOMAIN for every other name. Sets
#       XU_DNS_WRAP, a command prefix that runs a command in a private mount
#       namespace whose /etc/resolv.conf names only that stub (the machine's
#       file is never touched), and XU_DNS_LOG (one line per query). Skips
#       the test where a private mount namespace is not permitted.
#
# xu_run_tool (helpers/common.bash) runs the tool under "${XU_WRAP[@]}":
#   xu_dns_stub; XU_WRAP=("${XU_DNS_WRAP[@]}"); xsend ...

xu_dns_stub() {
	local ip rc pf pid i
	unshare -m true 2>/dev/null || skip "unshare -m is not permitted here (needs root)"
	ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
	rc=$BATS_TEST_TMPDIR/resolv.conf
	pf=$BATS_TEST_TMPDIR/dns.port
	XU_DNS_LOG=$BATS_TEST_TMPDIR/dns.log
	printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$ip" >"$rc"
	rm -f "$pf"
	"$XU_PYTHON" "$XU_TESTS_DIR/bin/probe-peer.py" dns --address "$ip" --port-file "$pf" "$@" \
		>"$XU_DNS_LOG" 2>&1 </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	for i in $(seq 1 100); do
		[ -s "$pf" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	[ -s "$pf" ] || { cat "$XU_DNS_LOG" >&2; fail "the DNS stub did not start on $ip"; }
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
	XU_DNS_WRAP=(unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$rc")
	export XU_DNS_LOG
}
