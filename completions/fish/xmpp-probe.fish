# fish completion for xmpp-probe(1)

function __xmpp_probe_accounts
    set -l conf (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/xmpputils/config
    test -r $conf; and sed -n 's/^[[:space:]]*account[[:space:]]\{1,\}\([^[:space:]:]\{1,\}\).*/\1/p' $conf
end

set -l __xmpp_probe_mechs 'SCRAM-SHA-1 SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-256-PLUS SCRAM-SHA-512 SCRAM-SHA-512-PLUS PLAIN DIGEST-MD5 EXTERNAL ANONYMOUS'

complete -c xmpp-probe -f -a '(__fish_print_hostnames)'
complete -c xmpp-probe -l mode -x -a 'c2s s2s component cm' -d 'What to probe'
complete -c xmpp-probe -l format -x -a 'text json xml' -d 'Report format'
complete -c xmpp-probe -l nagios -d 'Nagios plugin output and exit status'
complete -c xmpp-probe -l prometheus -d 'Prometheus text exposition format'
complete -c xmpp-probe -s 4 -l ipv4 -d 'Connect over IPv4 only'
complete -c xmpp-probe -s 6 -l ipv6 -d 'Connect over IPv6 only'
complete -c xmpp-probe -l warn-days -x -d 'Warning when the certificate expires within N days'
complete -c xmpp-probe -l crit-days -x -d 'Critical when the certificate expires within N days'
complete -c xmpp-probe -l warn-ms -x -d 'Warning when the probe (or STAGE:) takes longer than MS'
complete -c xmpp-probe -l crit-ms -x -d 'Critical when the probe (or STAGE:) takes longer than MS'
complete -c xmpp-probe -l expect-mechanism -x -a "$__xmpp_probe_mechs" -d 'Critical unless this SASL mechanism is offered'
complete -c xmpp-probe -l forbid-mechanism -x -a "$__xmpp_probe_mechs" -d 'Critical if this SASL mechanism is offered'
complete -c xmpp-probe -l expect-feature -x -d 'Critical unless this feature namespace is offered'
complete -c xmpp-probe -l no-login -d 'Do not log in, even if an account is configured'
complete -c xmpp-probe -s a -l account -x -a '(__xmpp_probe_accounts)' -d 'Account from the config file'
complete -c xmpp-probe -s C -l config -r -F -d 'Config file'
complete -c xmpp-probe -s j -l jid -x -d 'Log in as this JID'
complete -c xmpp-probe -l host -x -a '(__fish_print_hostnames)' -d 'Connect to this host (no SRV lookup)'
complete -c xmpp-probe -l port -x -d 'TCP port'
complete -c xmpp-probe -s r -l resource -x -d 'Resource to ask for'
complete -c xmpp-probe -l tls -x -a 'starttls direct off' -d 'TLS mode'
complete -c xmpp-probe -l tls-trust-file -r -F -d 'CA certificates to trust'
complete -c xmpp-probe -l tls-fingerprint -x -d 'Required SHA-256 fingerprint of the server certificate'
complete -c xmpp-probe -l tls-insecure -d 'A certificate that does not verify is only a warning'
complete -c xmpp-probe -l password-file -r -F -d 'Read the password from this file'
complete -c xmpp-probe -l passwordeval -x -a '(__fish_complete_command)' -d 'Command printing the password'
complete -c xmpp-probe -l timeout -x -d 'Deadline for the whole probe'
complete -c xmpp-probe -l trace -r -F -d 'Write the transcript to this file'
complete -c xmpp-probe -l component -x -d 'Component domain, or connection manager name'
complete -c xmpp-probe -l secret-file -r -F -d 'Component or connection manager secret file'
complete -c xmpp-probe -s v -l verbose -d 'Say more on stderr'
complete -c xmpp-probe -s q -l quiet -d 'Print only errors on stderr'
complete -c xmpp-probe -s h -l help -d 'Show the help and exit'
complete -c xmpp-probe -s V -l version -d 'Show the version and exit'
