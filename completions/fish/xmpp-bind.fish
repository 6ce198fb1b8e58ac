# fish completion for xmpp-bind(1)

function __xmpp_bind_accounts
    set -l conf (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/xmpputils/config
    test -r $conf; and sed -n 's/^[[:space:]]*account[[:space:]]\{1,\}\([^[:space:]:]\{1,\}\).*/\1/p' $conf
end

complete -c xmpp-bind -f
complete -c xmpp-bind -l stdio -d 'Bridge stanzas between stdin/stdout and the server'
complete -c xmpp-bind -l iq -d 'Send the one iq read from stdin, print its answer'
complete -c xmpp-bind -l query -x -d 'The iq to send (implies --iq)'
complete -c xmpp-bind -l presence -d 'With --stdio: send initial presence'
complete -c xmpp-bind -s a -l account -x -a '(__xmpp_bind_accounts)' -d 'Account from the config file'
complete -c xmpp-bind -s C -l config -r -F -d 'Config file'
complete -c xmpp-bind -s j -l jid -x -d 'Log in as this JID'
complete -c xmpp-bind -l host -x -a '(__fish_print_hostnames)' -d 'Connect to this host'
complete -c xmpp-bind -l port -x -d 'TCP port'
complete -c xmpp-bind -s r -l resource -x -d 'Resource to ask for'
complete -c xmpp-bind -l tls -x -a 'starttls direct off' -d 'TLS mode'
complete -c xmpp-bind -l tls-trust-file -r -F -d 'CA certificates to trust'
complete -c xmpp-bind -l tls-fingerprint -x -d 'Required SHA-256 fingerprint of the server certificate'
complete -c xmpp-bind -l tls-insecure -d 'Do NOT verify the server certificate'
complete -c xmpp-bind -l password-file -r -F -d 'Read the password from this file'
complete -c xmpp-bind -l passwordeval -x -a '(__fish_complete_command)' -d 'Command printing the password'
complete -c xmpp-bind -l timeout -x -d 'Deadline for the whole run (0: none once connected)'
complete -c xmpp-bind -l trace -r -F -d 'Write the XMPP transcript to this file'
complete -c xmpp-bind -l component -x -d 'Connect as this XEP-0114 component'
complete -c xmpp-bind -l secret-file -r -F -d 'Component secret file'
complete -c xmpp-bind -l sasl-mechanisms -x -a 'SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN DIGEST-MD5 ANONYMOUS' -d 'Allow only these SASL mechanisms'
complete -c xmpp-bind -l accept-mechanism-change -d 'Log in although the server no longer offers the mechanism used before'
complete -c xmpp-bind -l no-sasl-cache -d 'Neither use nor keep the SCRAM salted password'
complete -c xmpp-bind -s v -l verbose -d 'Say more on stderr'
complete -c xmpp-bind -s q -l quiet -d 'Print only errors'
complete -c xmpp-bind -s h -l help -d 'Show help'
complete -c xmpp-bind -s V -l version -d 'Show version'
