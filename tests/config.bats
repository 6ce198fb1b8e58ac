#!/usr/bin/env bats
# The msmtp-style configuration file (see README.md), exercised through
# xmpp-send against the suite's Prosody: which account was used is checked on
# the receiving side (the sender's JID), not by trusting the tool's own output.

load helpers/common

setup() {
	xu_require_tool xmpp-send
	CONF=$BATS_TEST_TMPDIR/config
}

teardown() {
	xu_common_teardown
}

@test "config: without -a the default account is used (\$XDG_CONFIG_HOME/xmpputils/config)" {
	# the generated config ends with "account default : alice"
	start_receiver bob bob --count 1
	xsend -m "from the default account" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].from | startswith("alice@xu.test/")'
}

@test "config: 'account default : NAME' picks NAME, -a overrides it" {
	write_config "$CONF" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD

		account carol
		jid carol@$XU_DOMAIN
		password $XU_CAROL_PASSWORD

		account default : carol
	EOF
	start_receiver bob bob --count 2
	xsend -C "$CONF" -m "one" "bob@$XU_DOMAIN"
	assert_status 0
	xsend -C "$CONF" -a alice -m "two" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob 'map(select(.body == "one"))[0].from | startswith("carol@xu.test/")'
	assert_recv bob 'map(select(.body == "two"))[0].from | startswith("alice@xu.test/")'
}

@test "config: 'account CHILD : PARENT' inherits from PARENT, which overrides defaults" {
	start_sink closed
	cat >"$CONF" <<-EOF
		defaults
		host 127.0.0.1
		# a port where nothing listens: only the parent's port works
		port $SINK_PORT
		tls starttls

		account base
		port $XU_C2S_PORT
		tls_trust_file $XU_CA

		account carol : base
		jid carol@$XU_DOMAIN
		password $XU_CAROL_PASSWORD
	EOF
	chmod 600 "$CONF"
	start_receiver bob bob --count 1
	xsend -C "$CONF" -a carol -m "inherited" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "inherited" and (.[0].from | startswith("carol@xu.test/"))'
}

@test "config: command-line options override the config file" {
	start_sink closed
	write_config "$CONF" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
		port $SINK_PORT
	EOF
	xsend -C "$CONF" -a alice -m "via the config's port" "bob@$XU_DOMAIN"
	assert_status 69
	xsend -C "$CONF" -a alice --port "$XU_C2S_PORT" -m "via --port" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "config: comments and blank lines are ignored" {
	cat >"$CONF" <<-EOF
		# xmpputils configuration

		# the shared settings
		defaults
		host 127.0.0.1
		port $XU_C2S_PORT

		tls_trust_file $XU_CA
		# an account
		account alice
		# jid below
		jid alice@$XU_DOMAIN

		password $XU_ALICE_PASSWORD
	EOF
	chmod 600 "$CONF"
	xsend -C "$CONF" -a alice -m "with comments" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "config: indented key lines are accepted (msmtp style)" {
	printf 'defaults\n  host 127.0.0.1\n  port %s\n\ttls_trust_file %s\n\naccount alice\n  jid alice@%s\n  password %s\n' \
		"$XU_C2S_PORT" "$XU_CA" "$XU_DOMAIN" "$XU_ALICE_PASSWORD" >"$CONF"
	chmod 600 "$CONF"
	xsend -C "$CONF" -a alice -m "indented" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "config: tls, port and timeout keys are honoured" {
	write_config "$CONF" <<-EOF
		account direct
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
		tls direct
		port $XU_TLS_PORT
	EOF
	start_receiver bob bob --count 1
	xsend -C "$CONF" -a direct -m "direct TLS from config" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "direct TLS from config"'

	start_sink silent
	write_config "$CONF" <<-EOF
		account slow
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
		port $SINK_PORT
		timeout 2
	EOF
	xsend -C "$CONF" -a slow -m "never" "bob@$XU_DOMAIN"
	assert_status 75
	[ "$elapsed_ms" -lt 5000 ] || fail "timeout 2 took ${elapsed_ms} ms"
}

@test "config: passwordeval and password_file keys work" {
	printf '%s\n' "$XU_ALICE_PASSWORD" >"$BATS_TEST_TMPDIR/pw"
	chmod 600 "$BATS_TEST_TMPDIR/pw"
	write_config "$CONF" 644 <<-EOF
		account eval
		jid alice@$XU_DOMAIN
		passwordeval cat $BATS_TEST_TMPDIR/pw

		account file
		jid alice@$XU_DOMAIN
		password_file $BATS_TEST_TMPDIR/pw
	EOF
	# no password in the file itself: world-readable is fine
	xsend -C "$CONF" -a eval -m "eval" "bob@$XU_DOMAIN"
	assert_status 0
	xsend -C "$CONF" -a file -m "file" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "config: a password in a group- or world-readable file is refused (78, file named)" {
	write_config "$CONF" 640 <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
	EOF
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	[[ "$stderr" == *"$CONF"* ]] || fail "stderr does not name $CONF"
	chmod 604 "$CONF"
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	[[ "$stderr" == *"$CONF"* ]] || fail "stderr does not name $CONF"
	chmod 600 "$CONF"
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 0
}

@test "config: an unknown key is an error naming the file and line (78)" {
	write_config "$CONF" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		colour blue
		password $XU_ALICE_PASSWORD
	EOF
	# write_config puts 7 lines before the heredoc: "colour" is line 10
	run sed -n 10p "$CONF"
	assert_output "colour blue"
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	[[ "$stderr" == *"$CONF"* ]] || fail "stderr does not name $CONF"
	assert_stderr_matches '(:10([^0-9]|$)|line 10([^0-9]|$))'
	assert_stderr_matches 'colour'
}

@test "config: a bad value is an error naming the line (78)" {
	write_config "$CONF" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		port seventy
		password $XU_ALICE_PASSWORD
	EOF
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches '(:10([^0-9]|$)|line 10([^0-9]|$))'
}

@test "config: a missing file given with -C is an error naming it (78)" {
	xsend -C "$BATS_TEST_TMPDIR/no/such/config" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	[[ "$stderr" == *"$BATS_TEST_TMPDIR/no/such/config"* ]] || fail "stderr does not name the file"
}

@test "config: an unknown account is an error naming it (78)" {
	xsend -a no-such-account -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches 'no-such-account'
}

@test "config: an account inheriting from an undefined one is an error (78)" {
	write_config "$CONF" <<-EOF
		account alice : ghost
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
	EOF
	xsend -C "$CONF" -a alice -m "x" "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches 'ghost'
}

@test "config: no default config file is fine when the options say everything" {
	mkdir -p "$BATS_TEST_TMPDIR/emptyxdg"
	start_receiver bob bob --count 1
	XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/emptyxdg XMPP_PASSWORD=$XU_ALICE_PASSWORD \
		xsend -j "alice@$XU_DOMAIN" --host 127.0.0.1 --port "$XU_C2S_PORT" --tls-trust-file "$XU_CA" \
		-m "no config at all" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "no config at all"'
}

# ---------------------------------------------------------------- issue 11.14
# A bad value is said with the file and line (78) before anything connects:
# the port is one where nothing listens, so a run that got as far as the
# network would say something else.

@test "config: a jid, resource, host or component that is not valid is 78 with file:line, before any connection" {
	start_sink closed
	local big
	big=$(head -c 2000 /dev/zero | tr '\0' r)
	local -a cases=("jid @$XU_DOMAIN|:2: invalid jid" "jid alice@$XU_DOMAIN # work|:2: invalid jid.*comment must be on a line of its own"
		"jid alice@$XU_DOMAIN
resource $big|:3: invalid resource"
		"jid alice@$XU_DOMAIN
host 127.0.0.1 # the test server|:3: invalid host.*comment must be on a line of its own"
		"jid alice@$XU_DOMAIN
component bad domain|:3: invalid component 'bad domain'")
	local c
	for c in "${cases[@]}"; do
		printf 'account w\n%s\npassword x\n' "${c%%|*}" >"$CONF"
		chmod 600 "$CONF"
		xsend -C "$CONF" -a w --host 127.0.0.1 --port "$SINK_PORT" -m hi "bob@$XU_DOMAIN"
		assert_status 78
		assert_stderr_matches "^xmpp-send: $CONF${c#*|}"
	done
}

@test "config: -C naming a directory is 78, not an empty config" {
	xsend -C "$BATS_TEST_TMPDIR" -j "alice@$XU_DOMAIN" -m hi "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches "$BATS_TEST_TMPDIR.*is a directory"
}

@test "config: an empty password line is refused (78, line named), quoted or not" {
	local pw
	for pw in 'password' 'password ""'; do
		write_config "$CONF" <<-EOF
			account alice
			jid alice@$XU_DOMAIN
			$pw
		EOF
		XMPP_PASSWORD=$XU_ALICE_PASSWORD xsend -C "$CONF" -a alice -m hi "bob@$XU_DOMAIN"
		assert_status 78
		assert_stderr_matches ":10: empty password"
	done
}

@test "config: an account defined twice is an error naming both lines (78)" {
	write_config "$CONF" <<-EOF
		account work
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD

		account work
		jid carol@$XU_DOMAIN
	EOF
	xsend -C "$CONF" -a work -m hi "bob@$XU_DOMAIN"
	assert_status 78
	assert_stderr_matches ":12: account 'work' is already defined at line 8"
}

@test "config: a UTF-8 byte-order mark at the start is skipped" {
	start_receiver bob bob --count 1
	write_config "$BATS_TEST_TMPDIR/plain" <<-EOF
		account alice
		jid alice@$XU_DOMAIN
		password $XU_ALICE_PASSWORD
	EOF
	{ printf '\357\273\277'; cat "$BATS_TEST_TMPDIR/plain"; } >"$CONF"
	chmod 600 "$CONF"
	[ "$(head -c 3 "$CONF" | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "no BOM written"
	xsend -C "$CONF" -a alice -m "after a BOM" "bob@$XU_DOMAIN"
	assert_status 0
	wait_receiver bob
	assert_recv bob '.[0].body == "after a BOM"'
}
