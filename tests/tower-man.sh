#!/bin/sh
# The EXAMPLES of man/zip-train.1 and man/zip-generate.1 run as written.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/tower-corpus.sh"

corpus 8 15 >train.tok
corpus 3 15 >dev.tok
prompts 3 train.tok >prompts.tok
cp "$data/tower-hf-bf16.safetensors" model.safetensors # a Hugging Face checkpoint
cp "$data/tower-hf.json" config.json
examples() { # the command lines of a page's EXAMPLES section, unescaped
	sed -n '/^\.SH EXAMPLES/,/^\.SH SEE ALSO/p' "$1" | grep '^zip-' | sed 's/\\-/-/g'
}
for page in zip-train zip-generate; do
	examples "$top_srcdir/man/$page.1" >"$page.cmds"
	[ -s "$page.cmds" ] || fail "no examples in $page.1"
	while read -r cmd; do
		sh -c "$cmd" </dev/null >out 2>err || fail "$page.1 example failed: $cmd: $(cat err)"
	done <"$page.cmds"
done
[ -s text.zpm ] && [ -s part.zpm ] && [ -s hf.zpm ] && [ -s greedy.tok ] || fail "the examples wrote nothing"
