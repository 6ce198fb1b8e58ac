#!/usr/bin/env bats
# The test harness itself, checked with independent slixmpp peers (no xmpputils
# tool involved): if these fail, nothing else in the suite means anything.

load helpers/common

teardown() {
	xu_common_teardown
}

@test "harness: Prosody listens on the ports it was given, for xu.test only" {
	run "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" wait-xmpp 127.0.0.1 "$XU_C2S_PORT" "$XU_DOMAIN" 3
	assert_success
	run "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" wait-xmpp 127.0.0.1 "$XU_TLS_PORT" "$XU_DOMAIN" 3 --tls
	assert_success
	# all distinct, none of the well-known ones
	run bash -c 'printf "%s\n" $XU_C2S_PORT $XU_TLS_PORT $XU_COMPONENT_PORT $XU_SPARE_PORT | sort -u | wc -l'
	assert_output 4
	[[ " $XU_C2S_PORT $XU_TLS_PORT $XU_COMPONENT_PORT " != *" 5222 "* ]]
	[[ " $XU_C2S_PORT $XU_TLS_PORT $XU_COMPONENT_PORT " != *" 5347 "* ]]
}

@test "harness: server certificate chains to the test CA and names xu.test" {
	run openssl verify -CAfile "$XU_CA" "$XU_SERVER_CERT"
	assert_success
	run openssl x509 -noout -ext subjectAltName -in "$XU_SERVER_CERT"
	assert_output --partial "DNS:xu.test"
	assert_output --partial "DNS:conference.xu.test"
	assert_output --partial "DNS:*.xu.test"
	# the exported fingerprint is the one the server presents
	run bash -c "openssl s_client -connect 127.0.0.1:$XU_TLS_PORT -servername $XU_DOMAIN </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
	assert_output --partial "$XU_SERVER_FINGERPRINT"
}

@test "harness: the client config is private and lists the test accounts" {
	run stat -c %a "$XU_CONFIG"
	assert_output 600
	run grep -c '^account ' "$XU_CONFIG"
	assert_output 6
	[ "$XU_CONFIG" = "$XDG_CONFIG_HOME/xmpputils/config" ]
}

@test "harness: receiver.py gets a message sent by send.py (slixmpp to slixmpp)" {
	start_receiver bob bob --count 1
	XU_SENDER_PASSWORD=$XU_ALICE_PASSWORD run "$XU_PYTHON" "$XU_TESTS_DIR/bin/send.py" \
		--jid "alice@$XU_DOMAIN" --to "bob@$XU_DOMAIN" --type chat --subject "S" --body $'two\nlines'
	assert_success
	wait_receiver bob
	assert_recv bob 'length == 1 and .[0].body == "two\nlines" and .[0].subject == "S" and .[0].type == "chat"'
	assert_recv bob '.[0].from | startswith("alice@xu.test/")'
}

@test "harness: receiver.py refuses a server its CA file does not vouch for" {
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$BATS_TEST_TMPDIR/other.key" -out "$BATS_TEST_TMPDIR/other.crt" \
		-days 1 -subj "/CN=other CA" 2>/dev/null
	XU_RECEIVER_PASSWORD=$XU_BOB_PASSWORD run "$XU_PYTHON" "$XU_TESTS_DIR/bin/receiver.py" \
		--jid "bob@$XU_DOMAIN" --ca "$BATS_TEST_TMPDIR/other.crt" --count 0 --timeout 5
	assert_failure
	refute_output --partial READY
}

@test "harness: a wrong password is counted as one failed login in the Prosody log" {
	prosody_log_mark
	XU_RECEIVER_PASSWORD=wrong run "$XU_PYTHON" "$XU_TESTS_DIR/bin/receiver.py" \
		--jid "bob@$XU_DOMAIN" --count 0 --timeout 5
	assert_failure
	[ "$(log_count 'XU-AUTH-ATTEMPT')" -ge 1 ]
	[ "$(log_count 'XU-AUTH-FAILURE')" -ge 1 ]
	[ "$(log_count 'XU-AUTH-SUCCESS')" = 0 ]
}

@test "harness: offline messages are stored and delivered on login" {
	XU_SENDER_PASSWORD=$XU_ALICE_PASSWORD run "$XU_PYTHON" "$XU_TESTS_DIR/bin/send.py" \
		--jid "alice@$XU_DOMAIN" --to "dave@$XU_DOMAIN" --body "while you were out"
	assert_success
	start_receiver dave dave --count 1 --offline
	wait_receiver dave
	assert_recv dave '.[0].body == "while you were out" and .[0].delay != null'
}

@test "harness: receiver.py joins a MUC room (created and unlocked) with a nick" {
	start_receiver r1 bob --muc "room1@$XU_MUC" --nick bobby --count 0
	wait_receiver r1
	# the room is usable by others now (a locked room would refuse them)
	start_receiver r2 carol --muc "room1@$XU_MUC" --nick caz --count 0
	wait_receiver r2
}

@test "harness: sinks: a closed port refuses, a silent port accepts and says nothing" {
	start_sink closed
	run "$XU_PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1', $SINK_PORT), timeout=2)"
	assert_failure
	assert_output --partial "ConnectionRefusedError"
	start_sink silent
	run "$XU_PYTHON" -c "
import socket
s = socket.create_connection(('127.0.0.1', $SINK_PORT), timeout=2)
s.sendall(b'<stream:stream>')
s.settimeout(1)
try:
    print('got', s.recv(10))
except socket.timeout:
    print('silent')"
	assert_success
	assert_output silent
}

@test "harness: prosody_restart keeps ports, accounts and works again" {
	local before=$XU_C2S_PORT
	prosody_restart
	prosody_is_running
	[ "$XU_C2S_PORT" = "$before" ]
	start_receiver bob bob --count 1
	XU_SENDER_PASSWORD=$XU_ALICE_PASSWORD run "$XU_PYTHON" "$XU_TESTS_DIR/bin/send.py" \
		--jid "alice@$XU_DOMAIN" --to "bob@$XU_DOMAIN" --body "after restart"
	assert_success
	wait_receiver bob
	assert_recv bob '.[0].body == "after restart"'
}

@test "harness: prosody_stop makes the c2s port refuse connections" {
	prosody_stop
	run "$XU_PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $XU_C2S_PORT), timeout=2)"
	assert_failure
	prosody_start
	run "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" wait-xmpp 127.0.0.1 "$XU_C2S_PORT" "$XU_DOMAIN" 3
	assert_success
}

@test "harness: receiver.py --receipts answers XEP-0184 receipt requests" {
	start_receiver bob bob --count 1 --receipts
	XU_SENDER_PASSWORD=$XU_ALICE_PASSWORD run "$XU_PYTHON" "$XU_TESTS_DIR/bin/send.py" \
		--jid "alice@$XU_DOMAIN" --to "bob@$XU_DOMAIN" --body "receipt please" --wait-receipt --timeout 10
	assert_success
	assert_output --partial "receipt "
	wait_receiver bob
	assert_recv bob '.[0].receipt_request == true'
}

@test "harness: the component port accepts $XU_COMPONENT with the exported secret, and only with it" {
	run "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" component-check 127.0.0.1 "$XU_COMPONENT_PORT" "$XU_COMPONENT"
	assert_success
	XU_COMPONENT_SECRET=wrong run "$XU_PYTHON" "$XU_TESTS_DIR/bin/netutil.py" component-check \
		127.0.0.1 "$XU_COMPONENT_PORT" "$XU_COMPONENT"
	assert_failure
}
