# shellcheck shell=bash
# Helpers for tests/docs.bats: the options a tool's --help lists, and where
# its man page and completions leave one out. Driven by --help alone, so an
# option (or a tool in cmd/) added later is covered without editing the test.

# docs_help_options TOOL_BINARY: one line per option of --help: "SHORT LONG"
# (SHORT is "-" when there is none). Option lines are those that start with
# blanks and a dash: "  -a, --account NAME  ..." or "      --host HOST  ...".
docs_help_options() {
	timeout 30 "$1" --help | sed -nE 's/^ +((-[A-Za-z0-9]), )?(--[a-z0-9][a-z0-9-]*).*/\2 \3/p' |
		sed -E 's/^ /- /' | sort -u
}

# docs_missing TOOL ROOT HELP_OPTIONS: prints "man:OPT", "zsh:OPT", "fish:OPT"
# for each option not documented (man: an .It item naming it; zsh and fish:
# named as an option in the completion file; bash is checked by running its
# completion, docs_bash_offers), "file:PATH" for a file that is missing.
docs_missing() {
	local tool=$1 root=$2 opts=$3 s l n
	local man=$root/man/$tool.1 bash=$root/completions/bash/$tool
	local zsh=$root/completions/zsh/_$tool fish=$root/completions/fish/$tool.fish
	local f
	for f in "$man" "$bash" "$zsh" "$fish"; do
		[ -f "$f" ] || echo "file:${f#"$root"/}"
	done
	while read -r s l; do
		[ -n "$l" ] || continue
		n=${l#--}
		grep -Eq -- "^\.It .*Fl (-|Fl )$n( |$)" "$man" 2>/dev/null || echo "man:$l"
		grep -Eq -- "(^|[^A-Za-z0-9-])$l([^A-Za-z0-9-]|$)" "$zsh" 2>/dev/null || echo "zsh:$l"
		grep -Eq -- "(-l|--long-option) $n( |$)" "$fish" 2>/dev/null || echo "fish:$l"
		[ "$s" != - ] || continue
		grep -Eq -- "^\.It (.* )?Fl ${s#-}( |$)" "$man" 2>/dev/null || echo "man:$s"
		grep -Eq -- "(^|[^A-Za-z0-9-])$s([^A-Za-z0-9-]|$)" "$zsh" 2>/dev/null || echo "zsh:$s"
		grep -Eq -- "(-s|--short-option) ${s#-}( |$)" "$fish" 2>/dev/null || echo "fish:$s"
	done <<<"$opts"
}

# docs_bash_offers TOOL ROOT: what the bash completion offers for "TOOL -<TAB>",
# one word per line (the function the file registers, run as bash would).
docs_bash_offers() {
	local tool=$1 root=$2
	timeout 60 env -i PATH="$PATH" HOME=/nonexistent bash --norc --noprofile -c '
		[ -f /usr/share/bash-completion/bash_completion ] &&
			. /usr/share/bash-completion/bash_completion
		. "$1" || exit 1
		fn=$(complete -p "$2" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		[ -n "$fn" ] || exit 1
		COMP_LINE="$2 -"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$2" -); COMP_CWORD=1
		"$fn" "$2" - "$2"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$root/completions/bash/$tool" "$tool"
}
