#!/usr/bin/env bats
# OMEMO 0.3 (issue 16): xmpp-send --omemo and xmpp-listen --omemo against an
# independent implementation (tests/bin/omemo-peer.py: slixmpp + python-omemo
# with its oldmemo backend) on the suite's Prosody with mod_pep.

load helpers/common

setup() {
	# every test starts with fresh keys for everyone
	export XDG_DATA_HOME=$BATS_TEST_TMPDIR/data
	mkdir -p "$XDG_DATA_HOME"
	/usr/bin/python3 -c 'import omemo, oldmemo.etree' 2>/dev/null ||
		skip "python3-omemo, python3-oldmemo and python3-xmlschema are needed (tests/install-deps)"
}

teardown() {
	xu_common_teardown
}

# start_peer NAME USER [omemo-peer.py options...]: an OMEMO client logged in
# as USER@XU_DOMAIN/NAME, keeping its keys in $BATS_TEST_TMPDIR/NAME.store;
# waits until its device is published (PEER_DEVICE_NAME gets its id). Its
# JSON lines go to $BATS_TEST_TMPDIR/NAME.json.
start_peer() {
	local name=$1 user=$2 pid i dir=$BATS_TEST_TMPDIR
	shift 2
	rm -f "$dir/$name.ready"
	XU_RECEIVER_PASSWORD=$(xu_password "$user") \
		/usr/bin/python3 "$XU_TESTS_DIR/bin/omemo-peer.py" --jid "$user@$XU_DOMAIN/$name" \
		--storage "$dir/$name.store" --ready-file "$dir/$name.ready" "$@" \
		>>"$dir/$name.json" 2>>"$dir/$name.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "XU_RECV_PID_$name=$pid"
	for i in $(seq 1 400); do
		if [ -s "$dir/$name.ready" ]; then
			eval "PEER_DEVICE_$name=$(cat "$dir/$name.ready")"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir/$name.err" >&2
	fail "omemo peer $name ($user) did not get ready"
}

_wrap() {
	if [ "${XU_VALGRIND:-0}" = 1 ]; then
		echo valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			--suppressions="$XU_TESTS_DIR/valgrind.supp"
	fi
}

# start_listen NAME ARGS...: xmpp-listen -v ARGS in the background (stdout in
# NAME.out, stderr in NAME.err) until it says it is listening (our device is
# published by then).
start_listen() {
	local name=$1 pid i
	shift
	# shellcheck disable=SC2046 # the wrapper is words or nothing
	$(_wrap) "$XU_BIN/xmpp-listen" -v "$@" >"$BATS_TEST_TMPDIR/$name.out" \
		2>"$BATS_TEST_TMPDIR/$name.err" </dev/null 3>&- &
	pid=$!
	_xu_track "$pid"
	eval "LISTEN_PID_$name=$pid"
	for i in $(seq 1 400); do
		grep -q '; listening$' "$BATS_TEST_TMPDIR/$name.err" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# /' "$BATS_TEST_TMPDIR/$name.err"
	fail "xmpp-listen $name did not start listening"
}

# wait_listen NAME [SECONDS]: wait for it to end by itself; sets lstatus.
wait_listen() {
	local name=$1 max=${2:-30} pid i
	eval "pid=\$LISTEN_PID_$name"
	for i in $(seq 1 $((max * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out"
		sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
		fail "xmpp-listen $name did not end within $max s"
	fi
	lstatus=0
	wait "$pid" || lstatus=$?
	printf '# xmpp-listen %s exited %s\n' "$name" "$lstatus"
	sed 's/^/# stdout: /' "$BATS_TEST_TMPDIR/$name.out"
	sed 's/^/# stderr: /' "$BATS_TEST_TMPDIR/$name.err"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer|^==[0-9]+== ' \
		"$BATS_TEST_TMPDIR/$name.err"; then
		fail "xmpp-listen $name: sanitizer/valgrind report on stderr"
	fi
}

# ljq NAME FILTER: jq -e FILTER over the listener's JSON lines (slurped).
ljq() {
	jq -se "$2" "$BATS_TEST_TMPDIR/$1.out" >/dev/null || fail "xmpp-listen $1: jq check failed: $2"
}

@test "omemo: a python-omemo client decrypts the first message (new session) and a later one" {
	xu_require_tool xmpp-send
	start_peer b bob --count 2
	xsend --omemo -m "first secret: db01 is down" "bob@$XU_DOMAIN"
	assert_status 0
	xsend --omemo -m "second secret" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	assert_recv b '.[0].encrypted and .[0].body == "first secret: db01 is down"'
	assert_recv b '.[1].encrypted and .[1].body == "second secret"'
	assert_recv b '[.[] | .fallback | test("secret") | not] | all'
}

@test "omemo: xmpp-listen decrypts what a python-omemo client sends (prekey message, then a normal one)" {
	xu_require_tool xmpp-listen
	start_listen l --omemo --format json -n 2 --kind message
	start_peer b bob --count 0 --to "alice@$XU_DOMAIN" --send "from python: one" --send "from python: two"
	wait_listen l
	[ "$lstatus" = 0 ] || fail "xmpp-listen exited $lstatus"
	ljq l "length == 2"
	ljq l ".[0].body == \"from python: one\" and .[1].body == \"from python: two\""
	ljq l "[.[] | .omemo.device == $PEER_DEVICE_b and .omemo.trust == \"blind\" and .omemo.error == null] | all"
	ljq l "[.[] | .from | startswith(\"bob@$XU_DOMAIN/\")] | all"
}

@test "omemo: xmpp-listen reports a corrupted message and goes on" {
	xu_require_tool xmpp-listen
	start_listen l --omemo --format json -n 2 --kind message
	start_peer bad bob --count 0 --to "alice@$XU_DOMAIN" --send "tampered" --corrupt
	start_peer good carol --count 0 --to "alice@$XU_DOMAIN" --send "intact"
	wait_listen l
	[ "$lstatus" = 0 ] || fail "xmpp-listen exited $lstatus"
	ljq l ".[0].body == null and (.[0].omemo.error | test(\"corrupted\"))"
	ljq l ".[1].body == \"intact\" and .[1].omemo.error == null"
	grep -q tampered "$BATS_TEST_TMPDIR/l.out" && fail "the tampered text was shown"
	true
}

@test "omemo: the server sees only ciphertext and the fallback body" {
	start_peer b bob --count 1
	prosody_log_mark
	xsend --omemo -m "TOKEN-plain-$$-never-on-the-wire" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	assert_recv b '.[0].body == "TOKEN-plain-'"$$"'-never-on-the-wire"'
	# positive control: the suite's Prosody logs whole messages (mod_xu_stanza_log)
	[ "$(log_count "XU-MESSAGE from=alice@$XU_DOMAIN/.*<encrypted xmlns=.eu.siacs.conversations.axolotl")" -ge 1 ] ||
		fail "the encrypted message is not in Prosody's log"
	[ "$(log_count "XU-MESSAGE from=alice@$XU_DOMAIN/.*<encryption[^>]*urn:xmpp:eme:0")" -ge 1 ] ||
		[ "$(log_count "XU-MESSAGE from=alice@$XU_DOMAIN/.*urn:xmpp:eme:0")" -ge 1 ] || fail "no EME hint (XEP-0380)"
	[ "$(log_count "XU-MESSAGE from=alice@$XU_DOMAIN/.*<body>This message is encrypted with OMEMO")" -ge 1 ] ||
		fail "no fallback body"
	[ "$(log_count "TOKEN-plain-$$")" = 0 ] || fail "the plaintext reached the server"
}

@test "omemo: a contact with two devices gets it on both; our other device gets its copy" {
	start_peer b1 bob --count 1
	start_peer b2 bob --count 1
	start_peer a2 alice --count 1
	xsend --omemo -m "to every device" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b1
	wait_receiver b2
	wait_receiver a2
	assert_recv b1 '.[0].body == "to every device"'
	assert_recv b2 '.[0].body == "to every device"'
	# a2 is alice's other device: the server sends it a carbon copy, encrypted for it too
	grep -q '"body": "to every device"' "$BATS_TEST_TMPDIR/a2.json" ||
		fail "alice's other device could not decrypt its copy"
}

@test "omemo: a recipient without OMEMO: exit 69 naming it, nothing sent, not even to the others" {
	# erin never runs an OMEMO client in this file (PEP data lasts for the whole run)
	start_peer b bob --count 1 --timeout 8
	start_receiver plain erin --count 1 --timeout 5
	prosody_log_mark
	xsend --omemo -m "TOKEN-$$-secret" "bob@$XU_DOMAIN" "erin@$XU_DOMAIN"
	assert_status 69
	assert_stderr_matches "erin@$XU_DOMAIN has no device we can encrypt for"
	assert_stderr_matches "nothing was sent"
	[ "$(log_count "XU-MESSAGE from=alice@")" = 0 ] || fail "a message was sent"
	[ "$(log_count "TOKEN-$$")" = 0 ] || fail "the text reached the server"
}

@test "omemo: the key store is private (0700/0600) and refused when others can read it" {
	start_peer b bob --count 1
	xsend --omemo -m "hello" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	local dir=$XDG_DATA_HOME/xmpputils/omemo/alice@$XU_DOMAIN
	[ "$(stat -c %a "$dir")" = 700 ] || fail "store directory mode $(stat -c %a "$dir")"
	[ "$(stat -c %a "$dir/store.db")" = 600 ] || fail "store file mode $(stat -c %a "$dir/store.db")"
	chmod 755 "$dir"
	xsend --omemo -m "hello" "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches "can be read by others"
	chmod 700 "$dir"
	chmod 644 "$dir/store.db"
	xsend --omemo -m "hello" "bob@$XU_DOMAIN"
	assert_status 77
	assert_stderr_matches "store.db can be read by others"
}

@test "omemo: two runs of the same account at once (first use included) do not corrupt the store" {
	start_peer b bob --count 6 --timeout 40
	local i pa pb ra rb
	for i in 1 2 3; do
		"$XU_BIN/xmpp-send" --omemo -m "concurrent A$i" "bob@$XU_DOMAIN" \
			>"$BATS_TEST_TMPDIR/a$i.out" 2>&1 </dev/null 3>&- &
		pa=$!
		"$XU_BIN/xmpp-send" --omemo -m "concurrent B$i" "bob@$XU_DOMAIN" \
			>"$BATS_TEST_TMPDIR/b$i.out" 2>&1 </dev/null 3>&- &
		pb=$!
		ra=0 rb=0
		wait "$pa" || ra=$?
		wait "$pb" || rb=$?
		sed 's/^/# /' "$BATS_TEST_TMPDIR/a$i.out" "$BATS_TEST_TMPDIR/b$i.out"
		[ "$ra" = 0 ] && [ "$rb" = 0 ] || fail "round $i: the runs exited $ra and $rb"
	done
	wait_receiver b
	assert_recv b '[.[] | .body] | sort == ["concurrent A1","concurrent A2","concurrent A3","concurrent B1","concurrent B2","concurrent B3"]'
	assert_recv b '[.[] | .device] | unique | length == 1'
}

# xomemo ARGS...: xmpp-omemo in the foreground (status, output, stderr)
xomemo() {
	xu_run_tool xmpp-omemo "$@"
}

@test "omemo: xmpp-omemo lists a contact's devices; a distrusted device is left out" {
	xu_require_tool xmpp-omemo
	start_peer b1 bob --count 1
	start_peer b2 bob --count 1 --timeout 60
	xomemo devices "bob@$XU_DOMAIN"
	assert_status 0
	grep -Eq "^bob@$XU_DOMAIN $PEER_DEVICE_b1 blind [0-9a-f]{8}( [0-9a-f]{8}){7}$" <<<"$output" ||
		fail "device b1 not listed with its fingerprint"
	grep -q "^bob@$XU_DOMAIN $PEER_DEVICE_b2 blind " <<<"$output" || fail "device b2 not listed"
	xomemo distrust "bob@$XU_DOMAIN" "$PEER_DEVICE_b2"
	assert_status 0
	xomemo devices "bob@$XU_DOMAIN"
	grep -q "^bob@$XU_DOMAIN $PEER_DEVICE_b2 distrusted " <<<"$output" || fail "b2 is not distrusted"
	xsend --omemo -m "not for b2" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b1
	assert_recv b1 '.[0].body == "not for b2"'
	wait_receiver b2
	assert_recv b2 '.[0].body == null and (.[0].error | test("NotForUs|not.*for"; "i"))'
	# a device that does not exist is an error, not a silent no-op
	xomemo trust "bob@$XU_DOMAIN" 12345
	assert_status 65
	assert_stderr_matches "no known device '12345'"
}

@test "omemo: after a verification, a new device of that contact is undecided and not used" {
	xu_require_tool xmpp-omemo
	start_peer b1 bob --count 2
	xomemo devices "bob@$XU_DOMAIN"
	local fp
	fp=$(sed -n "s/^bob@$XU_DOMAIN $PEER_DEVICE_b1 blind //p" <<<"$output")
	[ -n "$fp" ] || fail "no fingerprint for b1"
	xomemo trust "bob@$XU_DOMAIN" "$fp"
	assert_status 0
	start_peer b3 bob --count 1 --timeout 60
	xsend --omemo -m "verified only" "bob@$XU_DOMAIN"
	assert_status 0
	xomemo devices "bob@$XU_DOMAIN"
	grep -q "^bob@$XU_DOMAIN $PEER_DEVICE_b1 verified " <<<"$output" || fail "b1 is not verified"
	grep -q "^bob@$XU_DOMAIN $PEER_DEVICE_b3 undecided " <<<"$output" || fail "b3 is not undecided"
	wait_receiver b3
	assert_recv b3 '.[0].body == null and .[0].error != null'
	xsend --omemo -m "second" "bob@$XU_DOMAIN"
	wait_receiver b1
	assert_recv b1 '[.[] | .body] == ["verified only", "second"]'
}

@test "omemo: xmpp-omemo fingerprint shows our device id and the fingerprint others see" {
	xu_require_tool xmpp-omemo
	xomemo fingerprint
	assert_status 0
	local dev fp
	dev=${output%% *}
	fp=${output#* }
	grep -Eq '^[0-9]+$' <<<"$dev" || fail "no device id"
	start_peer b bob --count 1
	xsend --omemo -m "hi" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	assert_recv b ".[0].device == $dev"
	xomemo devices
	assert_status 0
	grep -qx "own $dev own $fp" <<<"$output" || fail "own device not listed as in fingerprint"
}

@test "omemo: xmpp-omemo's options are in its man page and completions; the page renders and lists every exit status" {
	xu_require_tool xmpp-omemo
	xomemo --help
	assert_status 0
	local root opts o code missing=""
	root=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
	[ "$(wc -l <<<"$opts")" -ge 15 ] || fail "too few options found in --help"
	for o in $opts; do
		grep -q -- "Fl -${o#--}\b" "$root/man/xmpp-omemo.1" || missing="$missing man:$o"
		grep -q -- "$o\b" "$root/completions/bash/xmpp-omemo" || missing="$missing bash:$o"
		grep -q -- "$o\b" "$root/completions/zsh/_xmpp-omemo" || missing="$missing zsh:$o"
		grep -q -- "-l ${o#--}\b" "$root/completions/fish/xmpp-omemo.fish" || missing="$missing fish:$o"
	done
	for o in fingerprint devices trust distrust; do
		grep -q "^\.Cm $o" "$root/man/xmpp-omemo.1" || missing="$missing man:$o"
		grep -q "$o" "$root/completions/bash/xmpp-omemo" || missing="$missing bash:$o"
	done
	[ -z "$missing" ] || fail "not documented:$missing"
	run groff -mandoc -ww -z "$root/man/xmpp-omemo.1"
	[ "$status" = 0 ] && [ -z "$output" ] || fail "groff: $output"
	for code in 0 64 65 68 69 74 75 76 77 78; do
		sed -n '/^\.Sh EXIT STATUS/,/^\.Sh EXAMPLES/p' "$root/man/xmpp-omemo.1" | grep -qx "\.It $code" ||
			fail "exit status $code is not in the man page"
	done
	bash -n "$root/completions/bash/xmpp-omemo" || fail "bash completion has a syntax error"
	xomemo frobnicate
	assert_status 64
	xomemo trust "bob@$XU_DOMAIN"
	assert_status 64
}

@test "omemo: --omemo is refused where it cannot keep its promise (rooms, --xml), before connecting" {
	xsend --omemo --muc -m "x" "room@$XU_MUC"
	assert_status 64
	assert_stderr_matches "rooms are not supported"
	xsend --omemo --xml "bob@$XU_DOMAIN" </dev/null
	assert_status 64
}

@test "omemo: --lines to two recipients, each line encrypted for each" {
	start_peer b bob --count 3
	start_peer d dave --count 3
	xsend --omemo --lines --one-per-line "bob@$XU_DOMAIN" "dave@$XU_DOMAIN" <<<$'line one\nline two\nline three'
	assert_status 0
	wait_receiver b
	wait_receiver d
	assert_recv b '[.[] | select(.encrypted) | .body] == ["line one", "line two", "line three"]'
	assert_recv d '[.[] | select(.encrypted) | .body] == ["line one", "line two", "line three"]'
}

@test "omemo: xmpp-listen replaces a prekey used by a new session and publishes the bundle again" {
	xu_require_tool xmpp-bind
	start_listen l --omemo --format json -n 1 --kind message
	local dev q before after
	xu_run_tool xmpp-omemo fingerprint
	dev=${output%% *}
	q="<iq type='get' xmlns='jabber:client'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.bundles:$dev'/></pubsub></iq>"
	xu_run_tool xmpp-bind -a alice --query "$q"
	assert_status 0
	before=$(grep -o "preKeyId=.[0-9]*" <<<"$output" | tr -dc '0-9\n' | sort)
	[ "$(wc -l <<<"$before")" = 100 ] || fail "the bundle does not have 100 prekeys"
	start_peer b bob --count 0 --to "alice@$XU_DOMAIN" --send "uses a prekey"
	wait_listen l
	ljq l '.[0].body == "uses a prekey"'
	xu_run_tool xmpp-bind -a alice --query "$q"
	after=$(grep -o "preKeyId=.[0-9]*" <<<"$output" | tr -dc '0-9\n' | sort)
	[ "$(wc -l <<<"$after")" = 100 ] || fail "the new bundle does not have 100 prekeys"
	[ "$(comm -23 <(echo "$before") <(echo "$after") | wc -l)" = 1 ] || fail "not exactly one prekey was used up"
	[ "$(comm -13 <(echo "$before") <(echo "$after") | wc -l)" = 1 ] || fail "not exactly one prekey was added"
}

@test "omemo: xmpp-listen shows the decrypted text in the body and xml formats too" {
	# one key store is one device: two listeners of it would race for each message
	start_listen body --omemo --body -n 1 --kind message
	start_peer b bob --count 0 --to "alice@$XU_DOMAIN" --send $'two\nlines'
	wait_listen body
	[ "$(cat "$BATS_TEST_TMPDIR/body.out")" = 'two\nlines' ] || fail "body format: $(cat "$BATS_TEST_TMPDIR/body.out")"
	start_listen xml --omemo --format xml -n 1 --kind message
	start_peer b bob --count 0 --to "alice@$XU_DOMAIN" --send "<in xml> & more"
	wait_listen xml
	xmllint --noout - <"$BATS_TEST_TMPDIR/xml.out" 2>/dev/null || fail "xml format does not parse"
	grep -q "<body>&lt;in xml&gt; &amp; more</body>" "$BATS_TEST_TMPDIR/xml.out" ||
		fail "xml format has not the decrypted body"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

@test "omemo: --file encrypts before upload; a python-omemo client gets an aesgcm:// URL and decrypts the file" {
	local dir=$BATS_TEST_TMPDIR big txt i path
	big=$dir/big.bin
	txt="$dir/Übersicht ça va.txt"
	head -c 1048577 /dev/urandom >"$big"
	printf 'TOKEN-file-%s: the quarterly numbers\n' "$$" >"$txt"
	start_peer b bob --count 2 --fetch-files
	prosody_log_mark
	xsend --omemo --file "$big" --file "$txt" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver b
	# XEP-0454: aesgcm://HOST/PATH#<24 hex iv><64 hex key>, the https GET URL's host and path
	assert_recv b '[.[] | .encrypted and (.body | test("^aesgcm://localhost:'"$XU_HTTPS_PORT"'/[^#]+#[0-9a-f]{88}$"))] | all'
	assert_recv b '.[0].file.sha256 == "'"$(sha "$big")"'" and .[0].file.size == 1048577'
	assert_recv b '.[1].file.sha256 == "'"$(sha "$txt")"'"'
	# what the upload server stored and serves is the ciphertext plus the 16-byte tag
	assert_recv b '.[0].stored.sha256 != .[0].file.sha256 and .[0].stored.size == 1048577 + 16'
	assert_recv b '.[1].stored.sha256 != .[1].file.sha256 and .[1].stored.size == .[1].file.size + 16'
	# no name, no key, no URL outside the encryption
	assert_recv b '[.[] | .body | test("big|bersicht|txt") | not] | all'
	assert_recv b '[.[] | .fallback | test("aesgcm|https|file_share") | not] | all'
	[ "$(log_count "XU-MESSAGE from=alice@$XU_DOMAIN/.*<encrypted xmlns=.eu.siacs.conversations.axolotl")" -ge 2 ] ||
		fail "the encrypted messages are not in Prosody's log"
	[ "$(log_count 'PUT /file_share/')" -ge 2 ] || fail "the two PUTs are not in Prosody's log"
	for i in 0 1; do
		path=$(recv_jq b ".[$i].body" | sed 's|^aesgcm://[^/]*||; s|#.*||')
		[ "$(log_count "XU-MESSAGE.*$path")" = 0 ] || fail "the file's URL path is in a message in clear"
	done
	[ "$(log_count "XU-MESSAGE from=alice@.*(jabber:x:oob|https://)")" = 0 ] || fail "an URL or OOB element in clear"
	# on the upload server's disk: the files are there, the plaintext is not
	[ -n "$(find "$XU_TMP/data" -type f -size +1024k)" ] || fail "the upload is not on Prosody's disk"
	[ -z "$(grep -rl "TOKEN-file-$$" "$XU_TMP/data")" ] || fail "the plaintext is on the upload server's disk"
}

@test "omemo: --file from standard input (bounded by --timeout); --file-name refused; a recipient without OMEMO gets nothing" {
	local f=$BATS_TEST_TMPDIR/note.txt writer
	printf 'TOKEN-stdin-%s\n' "$$" >"$f"
	xsend --omemo --file "$f" --file-name x.txt "bob@$XU_DOMAIN"
	assert_status 64
	assert_stderr_matches "does not go with --omemo"
	# a source that never ends is bounded by --timeout, before any login
	mkfifo "$BATS_TEST_TMPDIR/never"
	sleep 60 >"$BATS_TEST_TMPDIR/never" &
	writer=$!
	_xu_track "$writer"
	xsend --omemo --timeout 1 --file - "bob@$XU_DOMAIN" <"$BATS_TEST_TMPDIR/never"
	assert_status 75
	assert_stderr_matches "did not end within --timeout"
	kill "$writer" 2>/dev/null || true
	start_peer b bob --count 1 --fetch-files
	xsend --omemo --file - "bob@$XU_DOMAIN" <"$f"
	assert_status 0
	wait_receiver b
	assert_recv b '.[0].file.sha256 == "'"$(sha "$f")"'"'
	# erin never runs an OMEMO client in this file
	prosody_log_mark
	xsend --omemo --file - "erin@$XU_DOMAIN" < <(printf 'TOKEN-pipe-%s\n' "$$")
	assert_status 69
	assert_stderr_matches "erin@$XU_DOMAIN has no device we can encrypt for"
	[ "$(log_count "XU-MESSAGE from=alice@")" = 0 ] || fail "a message was sent"
	[ -z "$(grep -rl "TOKEN-pipe-$$" "$XU_TMP/data")" ] || fail "the plaintext is on the upload server's disk"
}
