#!/bin/sh
# Deterministic compute: a sieve of Eratosthenes up to N. Writes every prime to /outputs/primes.txt and a
# summary to /outputs/summary.txt and stdout. Same N, same bytes: no clock, no randomness, no network.
N="$1"
case "$N" in ''|*[!0-9]*) echo "primes: N must be a whole number, got \"$N\"" >&2; exit 2 ;; esac
if [ "$N" -gt 5000000 ]; then echo "primes: N must be at most 5000000" >&2; exit 2; fi
awk -v n="$N" '
BEGIN {
  count = 0; last = 0
  for (i = 2; i <= n; i++) {
    if (!(i in composite)) {
      print i > "/outputs/primes.txt"
      count++; last = i
      if (i * i <= n) for (j = i * i; j <= n; j += i) composite[j] = 1
    } else delete composite[i]
  }
  printf "" >> "/outputs/primes.txt"
  printf "n=%d count=%d largest=%d\n", n, count, last > "/outputs/summary.txt"
  printf "n=%d count=%d largest=%d\n", n, count, last
}' || exit 1
