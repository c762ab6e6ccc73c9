#!/bin/sh
# Runs the EXAMPLES of zip-tokenize(1) and zip-detokenize(1): every "$ "
# line in order, each page in a fresh directory; output lines printed under
# a command in the page must be what it prints.
. "$top_srcdir/tests/setup.sh"
command -v espeak-ng >/dev/null 2>&1 || { echo "espeak-ng not installed: skipped"; exit 77; }

for page in zip-tokenize.1 zip-detokenize.1; do
	mkdir "$work/$page" && cd "$work/$page"
	awk '
		/^\.SH EXAMPLES/ { on = 1; next }
		/^\.SH/ { on = 0 }
		!on { next }
		/^\.nf/ { nf = 1; n_in_block = 0; next }
		/^\.fi/ { nf = 0; next }
		!nf { next }
		{ gsub(/\\-/, "-"); gsub(/\\e/, "\\") }
		/^\$ / { n++; n_in_block++; sub(/^\$ /, ""); print "{ " $0 "\n} >out." n; next }
		n_in_block { print > ("exp." n) }
	' "$top_srcdir/man/$page" >examples.sh
	[ -s examples.sh ] || fail "$page: no examples found"
	sh -e examples.sh || fail "$page: an example failed: $(cat examples.sh)"
	for e in exp.*; do
		[ -e "$e" ] || continue
		assert_same "$e" "out.${e#exp.}"
	done
	cd "$work"
done
