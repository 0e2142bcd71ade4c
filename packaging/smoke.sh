#!/usr/bin/env bash
# Build the Linux one-folder app and smoke-test the frozen executable:
#   --version (must match pyproject.toml), --self-test, and the frozen `simulate` +
#   `cancel-all --json` pair (exit 0, verdict flat, 25 cancelled).
# Usage: packaging/smoke.sh            (build, then test)
#        SKIP_BUILD=1 packaging/smoke.sh  (test an existing dist/killswitch)
# Needs the venv (.venv) with the package extra; a display is not needed (Qt runs offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
APP=dist/killswitch/killswitch

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  .venv/bin/pip install -q -e '.[package]'
  .venv/bin/pyinstaller --noconfirm --log-level WARN packaging/killswitch.spec
fi
[[ -x "$APP" ]] || { echo "smoke: $APP was not built" >&2; exit 1; }

# A scratch home: no saved settings, no keyring, no record of the machine's own user.
SCRATCH=$(mktemp -d)
SIM_PID=""
cleanup() {
  if [[ -n "$SIM_PID" ]]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
export KILLSWITCH_CONFIG_DIR="$SCRATCH/config" KILLSWITCH_DATA_DIR="$SCRATCH/data" \
  KILLSWITCH_RUNTIME_DIR="$SCRATCH/run"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

# The build stays under 120 MiB with 10 MiB to spare (issue #13).
size_mib=$(( $(du -sb dist/killswitch | cut -f1) / 1048576 ))
echo "smoke: build size ${size_mib} MiB (limit 110 MiB)"
(( size_mib <= 110 )) || fail "the build is ${size_mib} MiB, over the 110 MiB limit"

# 1. --version says what pyproject.toml says.
want=$($PY -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
got=$("$APP" --version)
[[ "$got" == "killswitch $want" ]] || fail "--version printed '$got', expected 'killswitch $want'"
echo "smoke: PASS --version ($got)"

# 2. --self-test: simulator, window, one kill, keyring backend.
"$APP" --self-test || fail "--self-test"
echo "smoke: PASS --self-test"

# 3. The frozen simulator and the frozen headless kill, as two processes.
"$APP" simulate --orders 25 --seed 7 >"$SCRATCH/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 200); do
  grep -q '^API key:' "$SCRATCH/sim.out" && break
  kill -0 "$SIM_PID" 2>/dev/null || fail "simulate exited: $(cat "$SCRATCH/sim.out")"
  sleep 0.1
done
url=$(awk '/^URL:/ {print $2}' "$SCRATCH/sim.out")
key=$(awk '/^API key:/ {print $3}' "$SCRATCH/sim.out")
[[ -n "$url" && -n "$key" ]] || fail "simulate did not print its URL and key: $(cat "$SCRATCH/sim.out")"

set +e
OPENALGO_API_KEY="$key" "$APP" cancel-all --host "$url" --json >"$SCRATCH/report.json" 2>"$SCRATCH/report.err"
code=$?
set -e
[[ $code -eq 0 ]] || fail "cancel-all exited $code: $(cat "$SCRATCH/report.err" "$SCRATCH/report.json")"
$PY - "$SCRATCH/report.json" <<'PYEOF' || fail "cancel-all report: $(cat "$SCRATCH/report.json")"
import json, sys
report = json.load(open(sys.argv[1]))
cancelled = len(report["canceled_orders"])
assert report["verdict"] == "flat", report["verdict"]
assert cancelled == 25, cancelled
print(f"smoke: PASS simulate + cancel-all (verdict {report['verdict']}, {cancelled} cancelled)")
PYEOF
echo "smoke: all passed"
