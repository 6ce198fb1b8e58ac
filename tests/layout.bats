#!/usr/bin/env bats
# The source layout that docs/ARCHITECTURE.md describes, checked so that it
# stays true: lib/'s folders are layers and calls go one way (base <- xml <-
# xmpp <- omemo <- the engines), an engine does not call another, each main
# talks to the base and its own engine only, and every header says at its
# top what it is. Reads the sources only: no server, no build.

load helpers/common

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
}

teardown() {
	xu_common_teardown
}

# The rank of a lib/ folder: a file may include its own folder's headers and
# those of lower ranks. The four engines share the top rank, so none of them
# may include another.
layer_rank() {
	case $1 in
	base) echo 0 ;;
	xml) echo 1 ;;
	xmpp) echo 2 ;;
	omemo) echo 3 ;;
	send | listen | bind | probe) echo 4 ;;
	*) echo "unknown" ;;
	esac
}

@test "layout: every lib/ folder is a known layer, and no file includes a layer above its own or another engine" {
	local f d inc t bad="" folders=0
	for d in "$ROOT"/lib/*/; do
		d=${d%/}
		d=${d##*/}
		folders=$((folders + 1))
		[ "$(layer_rank "$d")" != unknown ] || bad="$bad"$'\n'"lib/$d/: not in docs/ARCHITECTURE.md's layers (add it there and here)"
	done
	[ "$folders" -ge 8 ] || fail "expected the eight layer folders in lib/, found $folders"
	[ -z "$(ls "$ROOT"/lib/*.[ch] 2>/dev/null)" ] || bad="$bad"$'\n'"files directly in lib/: $(ls "$ROOT"/lib/*.[ch])"
	for f in "$ROOT"/lib/*/*.[ch]; do
		d=${f%/*}
		d=${d##*/}
		while read -r inc; do
			t=${inc%%/*}
			[ "$t" = "$d" ] && continue
			if [ "$(layer_rank "$t")" = unknown ] || [ "$(layer_rank "$t")" -ge "$(layer_rank "$d")" ]; then
				bad="$bad"$'\n'"${f#"$ROOT"/}: includes $inc"
			fi
		done < <(sed -nE 's/^#include "([a-z_]+\/[a-z_]+\.h)".*/\1/p' "$f")
	done
	[ -z "$bad" ] || fail "layering:$bad"
}

@test "layout: each tool's main includes only the base and its one engine" {
	local f engines bad=""
	for f in "$ROOT"/cmd/*.c; do
		engines=$(sed -nE 's/^#include "([a-z]+)\/[a-z_]+\.h".*/\1/p' "$f" | grep -vx base | sort -u)
		[ "$(grep -c . <<<"$engines")" = 1 ] || bad="$bad"$'\n'"${f#"$ROOT"/}: includes from $(tr '\n' ' ' <<<"$engines")"
	done
	[ -z "$bad" ] || fail "mains:$bad"
}

@test "layout: every lib/ header starts with a comment, and no two lib/ files share a name" {
	local f bad="" dups
	for f in "$ROOT"/lib/*/*.h; do
		[ "$(head -c 2 "$f")" = "/*" ] || bad="$bad ${f#"$ROOT"/}"
	done
	[ -z "$bad" ] || fail "headers without a top comment:$bad"
	dups=$(for f in "$ROOT"/lib/*/*.c; do basename "$f"; done | sort | uniq -d)
	[ -z "$dups" ] || fail "lib/ files of one name (the archive would keep one): $dups"
}
