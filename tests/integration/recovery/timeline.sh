# Sourced by the recovery stories and the demo. say prints a step header; with LL_TIMELINE
# set, say and timeline also append "KIND|TIME-OR-NAME|TEXT" lines there (kinds: step,
# section, end, figure), which the demo's final report reads.
timeline() { [ -z "${LL_TIMELINE:-}" ] || printf '%s|%s|%s\n' "$1" "$2" "$3" >> "$LL_TIMELINE"; }
say() { printf '\n== %s\n' "$*" >&2; timeline step "$(date +%s.%N)" "$*"; }
