#!/bin/sh
# Counts lines, words and bytes of the Text argument and of every regular file under /inputs, in sorted order.
out=/outputs/counts.txt
: > "$out"
printf '%s' "$1" | wc -l -w -c | awk '{ printf "text lines=%d words=%d bytes=%d\n", $1, $2, $3 }' | tee -a "$out"
if [ -d /inputs ]; then
  find /inputs -type f | LC_ALL=C sort | while read -r f; do
    wc -l -w -c < "$f" | awk -v f="${f#/inputs/}" '{ printf "%s lines=%d words=%d bytes=%d\n", f, $1, $2, $3 }' | tee -a "$out"
  done
fi
