#!/bin/sh
# cowsay in busybox awk: the message is the arguments joined by spaces, filled into paragraphs (whitespace
# runs collapse, a newline followed by whitespace starts a new paragraph), wrapped at 39 columns (long words
# are broken), then drawn in a balloon: "< >" for one line, "/ \ | | \ /" for several.
COWSAY_MESSAGE="$*" exec awk '
BEGIN {
  msg = ENVIRON["COWSAY_MESSAGE"]; W = 39; n = 0
  gsub(/\n[ \t\r\n\f\v]+/, "\001", msg)
  np = split(msg, paras, "\001")
  if (np == 0) { np = 1; paras[1] = "" }
  for (p = 1; p <= np; p++) {
    t = paras[p]
    gsub(/[ \t\r\n\f\v]+/, " ", t)
    if (p > 1) lines[++n] = ""
    while (length(t) > W) {
      cut = 0
      for (i = W + 1; i >= 1; i--) if (substr(t, i, 1) == " ") { cut = i; break }
      if (cut == 0) { lines[++n] = substr(t, 1, W); t = substr(t, W + 1) }
      else { lines[++n] = substr(t, 1, cut - 1); t = substr(t, cut + 1) }
    }
    lines[++n] = t
  }
  max = 0
  for (i = 1; i <= n; i++) if (length(lines[i]) > max) max = length(lines[i])
  bar = ""; for (i = 0; i < max + 2; i++) bar = bar "_"
  print " " bar
  if (n < 2) printf "< %-" max "s >\n", lines[1]
  else {
    printf "/ %-" max "s \\\n", lines[1]
    for (i = 2; i < n; i++) printf "| %-" max "s |\n", lines[i]
    printf "\\ %-" max "s /\n", lines[n]
  }
  gsub(/_/, "-", bar)
  print " " bar
  print "        \\   ^__^"
  print "         \\  (oo)\\_______"
  print "            (__)\\       )\\/\\"
  print "                ||----w |"
  print "                ||     ||"
}'
