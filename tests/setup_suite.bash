# shellcheck shell=bash
# One throwaway Prosody for the whole bats run (see helpers/prosody.bash), or
# ejabberd when XU_SERVER=ejabberd (tests/run sets it from XMPP_TEST_SERVERS;
# helpers/ejabberd.bash). Its settings reach every test file through
# exported XU_* variables.

case ${XU_SERVER:=prosody} in
prosody | ejabberd) ;;
*) echo "setup_suite: unknown XU_SERVER '$XU_SERVER' (prosody or ejabberd)" >&2; exit 1 ;;
esac
export XU_SERVER
# shellcheck source=helpers/prosody.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/$XU_SERVER.bash"

setup_suite() {
	xu_server_setup "$$"
}

teardown_suite() {
	xu_server_teardown
}
