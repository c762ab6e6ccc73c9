#!/usr/bin/env python3
"""espeak_batch.py LIST DIR: speak many utterances with one espeak-ng process.

LIST has tab-separated lines "n voice words-per-minute pitch keep words";
each is spoken, in order, and when keep is 1 written to DIR/n.wav (22050 Hz
mono 16-bit) as `espeak-ng -v voice -s wpm -p pitch -w DIR/n.wav words`
would: the same library calls and flags (the first line byte for byte; later
ones differ from a fresh process by a few samples of carried-over state,
which is why the caller always passes a whole shard). Starting espeak-ng
costs about as much as speaking a sentence, so synth.sh uses this when a
Python 3 is at hand (ctypes and wave are in its standard library) and the
espeak-ng program otherwise.
"""
import ctypes
import sys
import wave

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_RATE, ESPEAK_PITCH = 1, 3
POS_CHARACTER = 1
ESPEAK_PHONEMES, ESPEAK_ENDPAUSE = 0x100, 0x1000  # as the espeak-ng program


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: espeak_batch.py LIST DIR")
    lib = ctypes.CDLL("libespeak-ng.so.1")
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0)
    if rate <= 0:
        sys.exit("espeak_batch.py: espeak_Initialize failed")
    chunks = []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    def collect(samples, n, events):
        if n > 0:
            chunks.append(ctypes.string_at(samples, n * 2))
        return 0

    lib.espeak_SetSynthCallback(collect)
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            n, voice, wpm, pitch, keep, words = line.rstrip("\n").split("\t")
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                sys.exit("espeak_batch.py: unknown voice " + voice)
            lib.espeak_SetParameter(ESPEAK_RATE, int(wpm), 0)
            lib.espeak_SetParameter(ESPEAK_PITCH, int(pitch), 0)
            text = words.encode()
            chunks.clear()
            if lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0,
                                ESPEAK_PHONEMES | ESPEAK_ENDPAUSE, None, None) != 0:
                sys.exit("espeak_batch.py: espeak_Synth failed on " + n)
            lib.espeak_Synchronize()
            if keep != "1":
                continue
            with wave.open("%s/%s.wav" % (sys.argv[2], n), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(b"".join(chunks))


if __name__ == "__main__":
    main()
