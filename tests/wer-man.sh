#!/bin/sh
# The EXAMPLES of zip-eval-wer(1) run as written: each "$ command" line is
# run with sh, and its output must be the lines that follow it.
. "$top_srcdir/tests/setup.sh"
sed -e 's/\\-/-/g' -e 's/\\e/\\/g' "$top_srcdir/man/zip-eval-wer.1" | awk '
	/^\.SH EXAMPLES/ { on = 1; next }
	/^\.SH/ { on = 0 }
	on && /^\.nf/ { nf = 1; next }
	on && /^\.fi/ { nf = 0; next }
	on && nf && /^\$ / { n++; print substr($0, 3) > ("cmd" n); printf "" > ("want" n); next }
	on && nf { print > ("want" n) }
	END { print n > "count" }'
n=$(cat count)
[ "$n" -ge 5 ] || fail "only $n example commands found"
i=1
while [ "$i" -le "$n" ]; do
	sh "cmd$i" >"got$i" 2>"err$i" || fail "example '$(cat "cmd$i")' failed: $(cat "err$i")"
	assert_same "want$i" "got$i"
	i=$((i + 1))
done
