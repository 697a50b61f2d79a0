#!/usr/bin/env bash
# Checks by hand that a killed run leaves nothing behind: starts `playwright test --project=smoke`
# with a private TMPDIR, kill -9s the Playwright runner after DELAY seconds (mid-run), and checks
# that within 10 s every process of the run (stack, PostgreSQL, simulator, workers, Chromium) is
# gone and nothing but compile caches is left in that TMPDIR.
#
#   scripts/check-kill.sh [DELAY=30] [extra playwright args, e.g. --grep @ui]
#
# Exit code 0 when clean, 1 when something was left (it is listed, then removed), 2 when the run
# ended before the kill.
set -euo pipefail
cd "$(dirname "$0")/.."
delay="${1:-30}"
shift || true

work="$(mktemp -d "${TMPDIR:-/tmp}/memorychat-killcheck-XXXXXX")"
run_tmp="$work/tmp"
mkdir "$run_tmp"
# Like /tmp: initdb runs as the postgres user and reads a password file from TMPDIR.
chmod 755 "$work" && chmod 1777 "$run_tmp"
trap 'rm -rf "$work"' EXIT

# A simple command in the background: $! is the runner itself (node), not a subshell.
TMPDIR="$run_tmp" node_modules/.bin/playwright test --project=smoke "$@" >"$work/run.log" 2>&1 &
runner=$!
sleep "$delay"
if ! kill -0 "$runner" 2>/dev/null; then
  echo "the run ended before ${delay} s: choose a shorter DELAY (or fewer --grep filters)"; tail -n 3 "$work/run.log"
  exit 2
fi

# The runner and all its descendants (PostgreSQL's backends start their own sessions, so a
# process group would miss them).
tree=("$runner")
for ((i = 0; i < ${#tree[@]}; i++)); do
  while read -r pid; do tree+=("$pid"); done < <(ps -o pid= --ppid "${tree[$i]}" || true)
done
echo "run log so far:"; tail -n 3 "$work/run.log" | sed 's/^/  /'
echo "killing runner $runner (${#tree[@]} processes in its tree) with SIGKILL:"
ps -o comm= -p "$(IFS=,; echo "${tree[*]}")" | sort | uniq -c | sed 's/^ */  /'
kill -9 "$runner"
start=$SECONDS
alive=()
while ((SECONDS - start < 10)); do
  alive=()
  for pid in "${tree[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  ((${#alive[@]} == 0)) && break
  sleep 0.5
done
status=0
if ((${#alive[@]} > 0)); then
  echo "FAIL: still running 10 s after the kill:"
  ps -o pid=,args= -p "$(IFS=,; echo "${alive[*]}")" | cut -c1-120 | sed 's/^/  /'
  kill -9 "${alive[@]}" 2>/dev/null || true
  status=1
else
  echo "ok: all ${#tree[@]} processes gone within $((SECONDS - start)) s"
fi
# Compile caches (tsx, Playwright's transform cache) are reused by every run, not litter.
left="$(find "$run_tmp" -mindepth 1 -maxdepth 1 ! -name 'tsx-*' ! -name 'playwright-transform-cache-*')"
if [[ -n "$left" ]]; then
  echo "FAIL: left in the run's temp folder:"
  echo "$left" | sed 's/^/  /'
  status=1
else
  echo "ok: nothing left in the run's temp folder (besides compile caches)"
fi
exit "$status"
