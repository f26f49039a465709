#!/bin/sh
# check-formats.sh FILE... — the agent's printf is common/fmt.c (agent/printf.c),
# which knows only integer and string conversions: fail the build when a
# string literal in FILE... holds a conversion it would refuse at run time
# (%f, %p, %ls, %1$d, ...).  A literal that is not a printf format (a
# strftime pattern) is skipped when its line says "not printf".
# POSIX sh + grep + sed; prints file:line and the conversion.
status=0
for f in "$@"; do
	bad=$(grep -n '"' "$f" | grep -v 'not printf' |
	    sed -e 's/\\\\//g' -e 's/\\"//g' -e "s/'\"'//g" |
	    sed -n 's/^\([0-9]*\):[^"]*"/\1:"/p' |
	    while IFS= read -r line; do
		n=${line%%:*}
		# the literals of the line, one per line
		printf '%s\n' "${line#*:}" | grep -o '"[^"]*"' |
		    sed 's/%%//g' |
		    grep -oE '%[-+ #0]*([0-9]+|\*)?(\.([0-9]+|\*)?)?[a-zA-Z$]{1,3}' |
		    grep -vE '^%[-+ #0]*([0-9]+|\*)?(\.([0-9]+|\*)?)?((hh|h|ll|l|j|z|t)?[diouxX]|[cs])' |
		    sed "s|^|$f:$n: |"
	    done)
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" | sed 's/$/ : a conversion the agent'"'"'s printf (common\/fmt.h) refuses/' >&2
		status=1
	fi
done
exit $status
