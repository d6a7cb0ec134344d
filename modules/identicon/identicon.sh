#!/bin/sh
# An identicon for a name, as an image file: the MD5 of the name gives a colour (its first 6 hex digits) and a
# 5×5 pattern mirrored left to right (the next 15 digits, odd = filled), drawn as SVG in /outputs/identicon.svg.
# Deterministic: the same name always gives the same bytes.
name="$*"
printf '%s' "$name" | md5sum | awk -v name="$name" '
function hexval(c) { return index("0123456789abcdef", c) - 1 }
{
  h = $1
  colour = "#" substr(h, 1, 6)
  out = "/outputs/identicon.svg"
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"240\" height=\"240\" viewBox=\"-1 -1 7 7\" shape-rendering=\"crispEdges\">\n" > out
  printf "<rect x=\"-1\" y=\"-1\" width=\"7\" height=\"7\" fill=\"#f2f2f2\"/>\n" > out
  for (r = 0; r < 5; r++) for (c = 0; c < 3; c++) {
    if (hexval(substr(h, 7 + r * 3 + c, 1)) % 2 == 1) {
      printf "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"1\" fill=\"%s\"/>\n", c, r, colour > out
      if (c < 2) printf "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"1\" fill=\"%s\"/>\n", 4 - c, r, colour > out
    }
  }
  printf "</svg>\n" > out
  close(out)
  printf "identicon of \"%s\": colour %s, md5 %s -> outputs/identicon.svg\n", name, colour, h
}'
