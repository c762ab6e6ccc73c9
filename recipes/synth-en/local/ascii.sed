# ascii.sed: common UTF-8 punctuation to ASCII (run with LC_ALL=C, bytes).
s/’/'/g
s/‘/'/g
s/“/"/g
s/”/"/g
s/—/, /g
s/–/ - /g
s/…/.../g
s/\xc2\xa0/ /g
s/\t/ /g
