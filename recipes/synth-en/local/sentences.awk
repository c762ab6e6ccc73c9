# sentences.awk: paragraphs (one per line) in, clean sentences out, one per
# line. Markup is removed, paragraphs are split after . ! ? followed by a
# capital (not after abbreviations or initials), and a sentence is kept only
# when a speech synthesiser and the transcript normaliser will agree on it:
# plain ASCII words, no acronyms or letter-digit mixtures, no decimals.
#   awk -v min=3 -v max=50 -f sentences.awk  (after sed -f ascii.sed)

BEGIN {
	n = split("Mr Mrs Ms Dr St Jr Sr Mt vs etc e.g i.e cf No Nos Gen Col Gov Rev Capt Lt Prof Hon Messrs Mme Fig Vol pp ch adj adv Gr Lat Esq Sen Rep Co Inc Ltd Bros Corp Ft Sgt Maj Mass Jan Feb Mar Apr Aug Sept Sep Oct Nov Dec viz Anat Zool Bot Chem Geol Med Mus Obs Archaic Prov Colloq", ab, " ")
	for (i = 1; i <= n; i++) abbrev[ab[i]] = 1
}

{
	p = $0
	gsub(/\\[^\\]*\\/, " ", p)          # gcide pronunciations \Ab*do"men\
	gsub(/\[[^\]]*\]/, " ", p)          # [etymology], [1913 Webster], [R.]
	gsub(/<[^>]*>/, " ", p)             # <programming>, e-mail addresses
	gsub(/\([^()]*\)/, " ", p)          # (Anat.), asides
	gsub(/[{}]/, "", p)                 # {cross references}: keep the words
	gsub(/--[A-Z][A-Za-z.]*/, " ", p)   # --Shak. attributions
	gsub(/ +- +|--+/, ", ", p)          # dashes
	while (match(p, /[A-Za-z]-[A-Za-z]/)) # hyphenated words: spoken apart
		p = substr(p, 1, RSTART) " " substr(p, RSTART + 2)
	gsub(/  +/, " ", p)
	while (match(p, / +[,;:.!?]/)) # a space before punctuation (tokenised text)
		p = substr(p, 1, RSTART - 1) substr(p, RSTART + RLENGTH - 1)
	sub(/^ /, "", p)
	split_sentences(p)
}

# split_sentences P: print each sentence of P that keeps().
function split_sentences(p,  w, nw, i, s, bare) {
	nw = split(p, w, " ")
	s = ""
	for (i = 1; i <= nw; i++) {
		s = (s == "") ? w[i] : s " " w[i]
		if (w[i] !~ /[.!?]["')]*$/ || i == nw) continue
		if (w[i + 1] !~ /^["'(]*[A-Z]/) continue
		bare = w[i]; sub(/[.!?]["')]*$/, "", bare); sub(/^["'(]+/, "", bare)
		if (bare in abbrev || bare ~ /^[A-Za-z]$/ || bare ~ /\./) continue
		keep(s); s = ""
	}
	if (s != "") keep(s)
}

function keep(s,  nwords, t, ws) {
	gsub(/^[ "']+|[ ]+$/, "", s)
	t = s; gsub(/["']+$/, "", t)
	if (t !~ /[.!?]$/) return
	if (s !~ /^[A-Z]/) return
	if (s ~ /[^A-Za-z0-9 ,.;:!?'"-]/) return  # markup, symbols, other scripts
	if (s ~ /[A-Z][A-Z]/) return               # acronyms, shouting
	if (s ~ /[0-9][A-Za-z]|[A-Za-z][0-9]/) return
	if (s ~ /[0-9][,.:][0-9]/) return          # 1,000  3.5  10:30
	if (s ~ /[.][.]|[,;:][,;:.]|-/) return     # ellipses, leftovers of markup
	if (s ~ /[.!?] [0-9]+[.]$/) return         # a numbered item after a sentence
	if (s ~ /(^| )[A-Za-z][.] ./) return       # initials, "n." and "p. p." of dictionaries
	nwords = split(s, ws, " ")
	if (nwords < min || nwords > max) return
	print s
}
