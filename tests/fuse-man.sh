#!/bin/sh
# The EXAMPLES of man/zip-fuse.1 and the fused examples of man/zip-generate.1
# run as written, but with 5 training steps instead of 2000.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/fuse-corpus.sh"

cp speech.tok dev-speech.tok
cp text.tok dev-text.tok
commands() { # SECTION PAGE: the zip- command lines of a section, continuations joined
	sed -n "/^\.SH $1/,/^\.SH /p" "$2" | sed -e 's/\\-/-/g' -e 's/\\e$/\\/' |
		awk '/\\$/ { sub(/\\$/, ""); line = line $0; next } { print line $0; line = "" }' |
		grep '^ *zip-' | sed 's/--steps 2000/--steps 5/'
}
commands EXAMPLES "$top_srcdir/man/zip-fuse.1" >fuse.cmds
commands "FUSED MODELS" "$top_srcdir/man/zip-generate.1" >generate.cmds
[ "$(wc -l <fuse.cmds)" -ge 4 ] && [ "$(wc -l <generate.cmds)" -ge 2 ] || fail "examples not found"
cat fuse.cmds generate.cmds | while read -r cmd; do
	sh -c "$cmd -q -j1" </dev/null 2>err || fail "example failed: $cmd: $(cat err)"
done
[ -s fused.zpm ] && [ -s single.zpm ] && [ -s hyp.tok ] && [ -s speech-hyp.tok ] && [ -s chain-speech.tok ] && [ -s chain-text.tok ] &&
	[ -s text.score ] && [ -s tower.score ] && [ -s speech.score ] || fail "the examples wrote nothing"
