# Sourced by the tests that run a man page's EXAMPLES (jq's man.test):
# man_examples PAGE runs every "$ " line of the section in order, in the
# current directory, and the lines printed under a command in the page
# must be what it prints.
man_examples() {
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
	' "$1" >examples.sh
	[ -s examples.sh ] || fail "$1: no examples found"
	sh -e examples.sh || fail "$1: an example failed: $(cat examples.sh)"
	for e in exp.*; do
		[ -e "$e" ] || continue
		assert_same "$e" "out.${e#exp.}"
	done
}
