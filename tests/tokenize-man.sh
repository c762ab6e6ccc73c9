#!/bin/sh
# Runs the EXAMPLES of zip-tokenize(1) and zip-detokenize(1): every "$ "
# line in order, each page in a fresh directory; output lines printed under
# a command in the page must be what it prints.
. "$top_srcdir/tests/setup.sh"
. "$top_srcdir/tests/man-examples.sh"
command -v espeak-ng >/dev/null 2>&1 || { echo "espeak-ng not installed: skipped"; exit 77; }

for page in zip-tokenize.1 zip-detokenize.1; do
	mkdir "$work/$page" && cd "$work/$page"
	man_examples "$top_srcdir/man/$page"
	cd "$work"
done
