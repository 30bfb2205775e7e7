# Sourced by the bench scripts. A ratio is only worth printing when both of its runs measured
# something: a baseline that failed (no answers, an empty figure) would turn into `ratio=inf` or 0
# and a green exit. `require_rates WHAT VALUE...` stops the script with status 1 and one line that
# names the run when any VALUE is empty, not a number, or not above zero.
require_rates() {
  local what="$1"
  shift
  local value
  for value in "$@"; do
    if ! awk -v v="$value" 'BEGIN {exit !(v ~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ && v + 0 > 0)}'; then
      echo "$what: a run measured nothing (got '${value}'); no ratio. Its output above says why." >&2
      exit 1
    fi
  done
}
