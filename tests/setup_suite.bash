# shellcheck shell=bash
# One throwaway Prosody for the whole bats run (see helpers/prosody.bash).
# Its settings reach every test file through exported XU_* variables.

# shellcheck source=helpers/prosody.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/prosody.bash"

setup_suite() {
	xu_server_setup "$$"
}

teardown_suite() {
	xu_server_teardown
}
