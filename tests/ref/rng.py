#!/usr/bin/python3
"""Independent xoshiro256** + splitmix64, printing the first outputs for a
few seeds as C initialisers for tests/check_core.c."""
M = (1 << 64) - 1

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)

def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M

def xoshiro(seed, count):
    s = []
    for _ in range(4):
        seed, v = splitmix64(seed)
        s.append(v)
    out = []
    for _ in range(count):
        out.append((rotl((s[1] * 5) & M, 7) * 9) & M)
        t = (s[1] << 17) & M
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out

for seed in (0, 1, 20241204):
    print("{%dULL, {%s}}," % (seed, ", ".join("0x%016xULL" % v for v in xoshiro(seed, 4))))
