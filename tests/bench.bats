#!/usr/bin/env bats
# The benchmark's own machinery (bench/): what it counts, not how fast
# anything is (no timing assertions here; see bench/RESULTS.md for numbers).

load helpers/common

setup() {
	BENCH_DIR=$(cd "$XU_TESTS_DIR/../bench" && pwd)
}

teardown() {
	xu_common_teardown
}

# flights SCENARIO: the count bench.py's count_flights gives for a synthetic
# STARTTLS + SCRAM + bind login (server port 5000, receiver 6000, client 7000).
flights() {
	/usr/bin/python3 - "$BENCH_DIR" "$1" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		import bench
		scenario = sys.argv[2]
		t = [1.0]
		pk = []
		def seg(direction, n, recs=(), hs=()):
		    t[0] += 0.001
		    src, dst = (7000, 5000) if direction == "c" else (5000, 7000)
		    pk.append((t[0], 2, src, dst, n, False, True, list(recs), list(hs)))
		pk.append((1.0, 2, 7000, 5000, 0, True, False, [], []))  # SYN
		seg("c", 147); seg("s", 298)                  # stream header / features
		seg("c", 51); seg("s", 50)                    # starttls / proceed
		seg("c", 517, [512], [1]); seg("s", 858, [122, 1, 23, 517], [2])
		if scenario == "race":                        # tickets arrive between Finished and header
		    seg("c", 80, [1, 69]); seg("s", 79, [74]); seg("c", 190, [185]); seg("s", 474, [74, 390])
		elif scenario == "late-features":             # both tickets alone, then features
		    seg("c", 80, [1, 69]); seg("c", 190, [185]); seg("s", 79, [74]); seg("s", 79, [74]); seg("s", 395, [390])
		else:
		    seg("c", 80, [1, 69]); seg("c", 190, [185]); seg("s", 474, [74, 74, 390])
		seg("c", 160, [155]); seg("s", 258, [253])    # SCRAM client-first / challenge
		seg("c", 228, [223]); seg("s", 122, [117])    # client-final / success
		seg("c", 190, [185]); seg("s", 694, [689])    # restart / features
		seg("c", 124, [119]); seg("s", 153, [148])    # bind / result
		seg("c", 152, [147]); seg("c", 126, [121])    # message + ping
		pk.append((t[0] + 0.0005, 1, 5000, 6000, 200, False, True, [195], []))  # to the receiver
		seg("s", 130, [125])                          # ping result (after: not counted)
		r = bench.count_flights(pk, [("x", 0.5, 2.0)], 5000, 6000)
		print(r[0]["flights"])
	EOF
}

@test "round trips: a STARTTLS + SCRAM + bind login is 9 flights, tickets or not" {
	run flights plain
	assert_success
	assert_output 9
	run flights race
	assert_output 9
	run flights late-features
	assert_output 9
}

@test "bench/run --help describes the options" {
	run bash "$BENCH_DIR/run" --help
	assert_success
	assert_output --partial "--runs N"
	assert_output --partial "--xmpp-send-lines"
}

@test "a short bench run of xmpp-send reports every message received and every line, in order" {
	xu_require_tool xmpp-send
	local work=$BATS_TEST_TMPDIR/work
	run timeout 300 bash "$BENCH_DIR/run" --no-install --xmpp-send "$XU_BIN/xmpp-send" --work "$work" \
		--tools xmpp-send --runs 2 --lines 20 --rtt-runs 0 --callgrind none --plain-runs 0
	echo "$output" | tail -40
	assert_success
	# one-shot: two runs, both exited 0, both messages arrived
	run /usr/bin/python3 -c '
import json, sys
raw = json.load(open(sys.argv[1]))
rs = raw["oneshot"]
assert len(rs) == 2, rs
assert all(r["exit"] == 0 and r["received_ms"] is not None and r["rss_kb"] > 0 for r in rs), rs
ls = [r for r in raw["lines"] if r["tool"] == "xmpp-send"]
assert len(ls) == 2, ls  # this xmpp-send has --lines: one line-mode run per round
for r in ls:
    assert r["exit"] == 0 and r["received"] == 20 and r["lost"] == 0 and r["duplicated"] == 0, r
    assert r["out_of_order"] == 0, r
print("ok", len(ls))
' "$work/raw.json"
	assert_success
	assert_output "ok 2"
	grep -q '^| xmpp-send |' "$work/report.md"
}
