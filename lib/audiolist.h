/* audiolist: the audio inputs every speech program takes, as (id, path)
 * pairs gathered up front:
 *   - an audio file of any format libsndfile reads: id = the file name
 *     without its directory and extension ("/a/utt1.flac" -> "utt1");
 *   - a Kaldi wav.scp list, "scp:FILE" or a name ending in ".scp": lines
 *     "utt-id path" (piped commands "... |" are refused; so is a list
 *     without any);
 *   - "-": one utterance on stdin, id "stdin".
 * An id seen twice is an error naming the place of the second. Only the
 * names are held: audio is read later, a batch at a time. */
#ifndef ZIPPER_AUDIOLIST_H
#define ZIPPER_AUDIOLIST_H

#include <stddef.h>

struct audio_item {
	char *id, *path;
};

struct audiolist {
	struct audio_item *items; /* (n) in input order */
	size_t n, cap;
	struct keyindex *seen; /* ids */
};

void audiolist_init(struct audiolist *l);
/* One command-line input (file, list or "-"): 0, or -1 with zerr. */
int audiolist_add_arg(struct audiolist *l, const char *arg);
/* One pair; where names its place for the duplicate-id message. */
int audiolist_add(struct audiolist *l, const char *id, const char *path, const char *where);
void audiolist_free(struct audiolist *l);

#endif
