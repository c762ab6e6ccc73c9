#!/bin/sh
# zip-tokenize / zip-detokenize with a text tokenizer: fit, transcripts and
# plain lines to tokens and back exactly (non-UTF-8 bytes too), headers.
. "$top_srcdir/tests/setup.sh"

for i in 1 2 3 4 5 6 7 8 9 10; do
	echo "the cat sat on the mat number $i, and the dog sat on the log."
	echo "Zipper joins a text tower and a speech tower with gated cross-attention."
	printf 'caf\303\251 na\303\257ve \377\376 bytes that are not UTF-8 %s\n' "$i"
done >corpus.txt
zip-tokenize -q --fit text --vocab 300 -o text.tok corpus.txt
expect_exit 0 zip-tokenize --fit text --vocab 300 -o text2.tok corpus.txt
expect_stderr "learned [0-9]+ merges"
assert_same text.tok text2.tok
# An empty corpus (here an empty stdin) fits nothing: an error, and no file.
expect_exit 1 zip-tokenize --fit text --vocab 300 -o empty.tok - </dev/null
expect_stderr "^zip-tokenize: stdin: no text to fit a tokenizer on"
expect_one_line_stderr
[ ! -e empty.tok ] || fail "an empty corpus gave a tokenizer"

printf 'utt1 the cat sat on the mat\nutt2 caf\303\251 \377 gated cross-attention\nutt3 \n' >text
zip-tokenize -m text.tok text >text.ids
fp=$(sha256sum text.tok | cut -c1-16)
head -n 1 text.ids | grep -Eq "^#! zipper tokens .*modality=text" || fail "no text header"
head -n 1 text.ids | grep -q "tokenizer=$fp" || fail "fingerprint is not sha256 of text.tok"
zip-detokenize -m text.tok text.ids >back
assert_same text back

zip-tokenize -m text.tok --raw corpus.txt | zip-detokenize -m text.tok --raw >back.txt
assert_same corpus.txt back.txt
# Plain lines are bytes: a NUL byte goes through too, not the end of the line.
printf 'a\000b\n\000\n' >nul.txt
zip-tokenize -m text.tok --raw nul.txt | zip-detokenize -m text.tok --raw >back.txt
assert_same nul.txt back.txt

# modality and vocabulary checks
printf '#! zipper tokens modality=speech vocab=1026\nu1 1 2\n' >speech.ids
expect_exit 1 zip-detokenize -m text.tok speech.ids
expect_stderr "modality speech, expected text"
# No utterances: a failure, and the output keeps what it had.
head -n 1 text.ids >none.ids
echo kept >kept.txt
expect_exit 1 zip-detokenize -m text.tok -o kept.txt none.ids
expect_stderr "none.ids: no utterances"
expect_one_line_stderr
[ "$(cat kept.txt)" = kept ] || fail "an archive without utterances replaced the output"
expect_exit 1 zip-tokenize -m text.tok missing.txt
expect_exit 2 zip-tokenize -m text.tok -F text
expect_exit 2 zip-detokenize -m text.tok -d out text.ids
expect_exit 2 zip-tokenize -m text.tok --raw - - <corpus.txt
expect_stderr "^zip-tokenize: only one input may be -"
