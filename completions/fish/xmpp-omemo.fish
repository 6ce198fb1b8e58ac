# fish completion for xmpp-omemo(1)

function __xmpp_omemo_accounts
    set -l conf (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/xmpputils/config
    test -r $conf; and sed -n 's/^[[:space:]]*account[[:space:]]\{1,\}\([^[:space:]:]\{1,\}\).*/\1/p' $conf
end

complete -c xmpp-omemo -f
complete -c xmpp-omemo -n '__fish_use_subcommand' -a 'fingerprint devices trust distrust' -d 'Command'
complete -c xmpp-omemo -s a -l account -x -a '(__xmpp_omemo_accounts)' -d 'Account from the config file'
complete -c xmpp-omemo -s C -l config -r -F -d 'Config file'
complete -c xmpp-omemo -s j -l jid -x -d 'Log in as this JID'
complete -c xmpp-omemo -l host -x -a '(__fish_print_hostnames)' -d 'Connect to this host'
complete -c xmpp-omemo -l port -x -d 'TCP port'
complete -c xmpp-omemo -s r -l resource -x -d 'Resource to ask for'
complete -c xmpp-omemo -l tls -x -a 'starttls direct off' -d 'TLS mode'
complete -c xmpp-omemo -l tls-trust-file -r -F -d 'CA certificates to trust'
complete -c xmpp-omemo -l tls-fingerprint -x -d 'Required SHA-256 fingerprint of the server certificate'
complete -c xmpp-omemo -l tls-insecure -d 'Do NOT verify the server certificate'
complete -c xmpp-omemo -l password-file -r -F -d 'Read the password from this file'
complete -c xmpp-omemo -l passwordeval -x -a '(__fish_complete_command)' -d 'Command printing the password'
complete -c xmpp-omemo -l timeout -x -d 'Deadline for the whole run (0: none once connected)'
complete -c xmpp-omemo -l trace -r -F -d 'Write the XMPP transcript to this file'
complete -c xmpp-omemo -l component -x -d 'Connect as this XEP-0114 component'
complete -c xmpp-omemo -l secret-file -r -F -d 'Component secret file'
complete -c xmpp-omemo -l sasl-mechanisms -x -a 'SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN DIGEST-MD5 ANONYMOUS' -d 'Allow only these SASL mechanisms'
complete -c xmpp-omemo -l accept-mechanism-change -d 'Log in although the server no longer offers the mechanism used before'
complete -c xmpp-omemo -l no-sasl-cache -d 'Neither use nor keep the SCRAM salted password'
complete -c xmpp-omemo -s v -l verbose -d 'Say more on stderr'
complete -c xmpp-omemo -s q -l quiet -d 'Print only errors'
complete -c xmpp-omemo -s h -l help -d 'Show help'
complete -c xmpp-omemo -s V -l version -d 'Show version'
