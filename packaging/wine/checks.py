"""The checks behind ``packaging/wine/check.sh``: the Windows code paths, run by Windows Python under Wine.

check.sh prepares the Wine prefix (Windows CPython, the pinned Windows wheels, this checkout
installed), its own Xvfb and a scratch directory, then runs this file with the project's Linux
venv. Every check prints one line on stdout, ``PASS <name>`` or ``FAIL <name>: <why>``, and what
it saw on stderr; the exit status is 0 only if all passed. Evidence is behaviour, never pixels:
the simulator's order book and request counts (it runs here, on loopback), exit codes and the
JSON the app prints.

* ``self-test``: ``killswitch --self-test`` on Qt's ``windows`` platform plugin.
* ``keyring``: the app's own key store (``core.secrets.OsKeyStore``) sets a key in one process,
  and a second process finds it in Windows Credential Manager, reads it, deletes it.
* ``trigger``: a normal window on a simulator; ``killswitch trigger --json``, with no key of its
  own, gets verdict ``flat`` from the window over the named pipe; a second launch finds the
  window and brings it forward instead of opening another.
* ``hotkey``: Ctrl+Alt+Shift+K held into that window (xdotool, real X key events that Wine turns
  into Windows ones for pynput's low-level hook): 0.15 s fires nothing under hold-to-fire, 1.5 s
  fires one kill and the book is empty.
* ``build``: PyInstaller under Wine builds ``killswitch.exe`` and ``killswitch-cli.exe`` from
  ``packaging/killswitch.spec``, with no ICU DLL in it (the prefix's icuuc.dll stub stays out).
* ``frozen``: ``killswitch-cli.exe --version`` says pyproject.toml's version, ``--self-test``
  passes, and the built window answers ``killswitch-cli.exe trigger`` over the pipe.
* ``tls``: ``cancel-all`` against a loopback HTTPS simulator whose certificate comes from a
  throw-away CA: refused with the TLS sentence (nothing cancelled) while the CA is not in the
  Windows store, accepted (flat) once ``cert_store.py`` adds it to the user's trusted roots.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import re
import secrets
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.simulator import Simulator  # noqa: E402

CHORD = "ctrl+alt+shift+k"  # xdotool's spelling of the default hotkey, <ctrl>+<alt>+<shift>+k
HOLD_MS = 600
START_TIMEOUT_S = 90.0  # a Wine process's first start on a busy 2-core machine is slow
START_CHECK_S = 2.0  # a window still running this long after its start was started by Wine
TLS_SENTENCE = "TLS certificate not trusted"

# Variables of this machine that a Windows trader's machine would not have, or that would point
# the app at the wrong key, server or certificates.
_FOREIGN = (
    "PIP_",
    "SSL_",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "OPENALGO_",
    "KILLSWITCH_",
    "QT_",
    "PYTHON",
    "VIRTUAL_ENV",
)

# What a wine client prints when it cannot talk to the wineserver, before any program runs.
_WINE_CLIENT_ERROR = re.compile(r"(wine client error:[^\n]*\s*)+")


class CheckError(Exception):
    """A check's one-sentence reason for failing."""


def winpath(path: Path | str) -> str:
    """The Windows name Wine gives a Linux path (drive Z: is /)."""
    return "Z:" + str(path).replace("/", "\\")


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-limit:]


def note(name: str, text: str) -> None:
    print(f"wine-check: {name}: {text}", file=sys.stderr, flush=True)


class Wine:
    """Windows programs in check.sh's prefix, with their output collected through a pipe."""

    def __init__(self, python: str, scratch: Path) -> None:
        self.python = python
        self.scratch = scratch
        self.logs = scratch / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
        self.base_env.update(PYTHONUTF8="1")  # piped output is cp1252 otherwise ("—" mangled)

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """Settings and kill record in ``home``, never a real user's."""
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "data").mkdir(parents=True, exist_ok=True)
        return {
            **self.base_env,
            "KILLSWITCH_CONFIG_DIR": winpath(home / "config"),
            "KILLSWITCH_DATA_DIR": winpath(home / "data"),
            **extra,
        }

    def app(self, *args: str) -> list[str]:
        """The app from the prefix's Python (this checkout, installed by check.sh)."""
        return ["wine", self.python, "-m", "main", *args]

    def run(self, argv: list[str], env: dict[str, str], log: str, timeout: float = 180.0) -> tuple[int, str]:
        """Run to the end; (exit status, output). The output also goes to logs/<log>.log.

        Run once more when Wine itself could not start the program: its only output is a
        wine client's error talking to the wineserver (then nothing of the program ran)."""
        code, out = self._run_once(argv, env, log, timeout)
        if code != 0 and _WINE_CLIENT_ERROR.fullmatch(out.strip()):
            note(log, f"Wine could not start {argv[1]!r} ({one_line(out)}); once more")
            code, out = self._run_once(argv, env, log, timeout)
        return code, out

    def _run_once(self, argv: list[str], env: dict[str, str], log: str, timeout: float) -> tuple[int, str]:
        with open(self.logs / f"{log}.log", "ab") as keep:
            keep.write(f"$ {' '.join(argv)}\n".encode())
            try:
                done = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.scratch,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                keep.write(exc.output or b"")
                raise CheckError(f"{' '.join(argv[1:])} did not finish within {timeout:g} s") from None
            keep.write(done.stdout)
        return done.returncode, done.stdout.decode("utf-8", "replace")

    def start(self, argv: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        """Start in the background; its output goes to logs/<log>.log.

        Started once more when Wine itself could not start it (see :meth:`run`): a window keeps
        running, and Wine failing to start one exits at once with only a wine client's error."""
        process, output, pump = self._start_once(argv, env, log)
        try:
            process.wait(START_CHECK_S)
        except subprocess.TimeoutExpired:
            return process
        pump.join(5)
        said = b"".join(output).decode("utf-8", "replace").strip()
        if process.returncode != 0 and _WINE_CLIENT_ERROR.fullmatch(said):
            note(log, f"Wine could not start {argv[1]!r} ({one_line(said)}); once more")
            process, _, _ = self._start_once(argv, env, log)
        return process

    def _start_once(
        self, argv: list[str], env: dict[str, str], log: str
    ) -> tuple[subprocess.Popen[bytes], list[bytes], threading.Thread]:
        keep = open(self.logs / f"{log}.log", "ab")  # noqa: SIM115 -- the reader thread closes it
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.scratch,
        )
        output: list[bytes] = []

        def pump() -> None:
            with keep:
                assert process.stdout is not None
                for line in process.stdout:
                    output.append(line)
                    keep.write(line)
                    keep.flush()

        reader = threading.Thread(target=pump, name=f"log-{log}", daemon=True)
        reader.start()
        return process, output, reader

    def close_windows(self, image: str, process: subprocess.Popen[bytes]) -> None:
        """Close the app's window as a user would (WM_CLOSE through taskkill), so it stops cleanly."""
        subprocess.run(
            ["wine", "taskkill", "/IM", image],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=self.base_env,
            timeout=60,
            check=False,
        )
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            note("cleanup", f"{image} did not close within 20 s; killing it")
            process.kill()
            process.wait(10)


def xdotool(*args: str) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip()


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, alive: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if alive is not None and alive.poll() is not None:
            raise CheckError(f"{what}: the process exited ({alive.returncode}) first")
        if time.monotonic() > deadline:
            raise CheckError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.1)


def json_in(output: str) -> dict[str, Any]:
    """The JSON object a --json command printed (Wine may print a line of its own before it)."""
    start = output.find("{")
    if start < 0:
        raise CheckError(f"no JSON in the output: {one_line(output)}")
    try:
        value, _ = json.JSONDecoder().raw_decode(output[start:])
    except ValueError:
        raise CheckError(f"unreadable JSON in the output: {one_line(output)}") from None
    if not isinstance(value, dict):
        raise CheckError(f"the JSON is not an object: {one_line(output)}")
    return value


def app_windows(sim: Simulator) -> list[str]:
    """X ids of the visible app windows on ``sim``, by their real title (not Wine's helper windows)."""
    title = rf"^Kill Switch for OpenAlgo .*127\.0\.0\.1:{sim.port}( |$)"
    return xdotool("search", "--onlyvisible", "--name", title).split()


@contextlib.contextmanager
def window(
    wine: Wine, argv: list[str], image: str, sim: Simulator, home: Path, log: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The app's window on ``sim``, polling, with its X window id (found by its real title)."""
    settings = {
        "host": sim.url,
        "firing_policy": "hold",
        "hold_ms": HOLD_MS,
        "hotkey": "<ctrl>+<alt>+<shift>+k",
        "hotkey_enabled": True,
        "poll_interval_s": 0.5,
    }
    env = wine.env(home, OPENALGO_API_KEY=sim.apikey)
    (home / "config" / "settings.json").write_text(json.dumps(settings), "utf-8")
    polls = sim.stats.requests.get("orderbook", 0)
    process = wine.start([*argv, "--host", sim.url], env, log)
    try:
        wait_until(
            lambda: sim.stats.requests.get("orderbook", 0) > polls,
            START_TIMEOUT_S,
            "the window's first order-book poll",
            process,
        )
        ids: list[str] = []

        def found() -> bool:
            ids[:] = app_windows(sim)
            return bool(ids)

        wait_until(found, 30, f"a visible window on {sim.url}", process)
        yield process, ids[0]
    finally:
        if process.poll() is None:
            wine.close_windows(image, process)


# --- the checks -------------------------------------------------------------------------------------


def check_self_test(wine: Wine) -> str:
    code, out = wine.run(
        wine.app("--self-test"), wine.env(wine.scratch / "self-test", QT_QPA_PLATFORM="windows"), "self-test"
    )
    if code != 0 or "self-test passed" not in out:
        failed = [line for line in out.splitlines() if line.startswith("FAIL")]
        raise CheckError(f"exit {code}: {one_line(' '.join(failed) or out)}")
    if "'windows' display" not in out:
        raise CheckError(f"not on Qt's windows platform plugin: {one_line(out)}")
    return one_line(" | ".join(line for line in out.splitlines() if line.startswith("PASS")), 600)


KEYSTORE_SET = """
import os, keyring
from core.secrets import OsKeyStore
store = OsKeyStore()
store.set(os.environ["KS_SERVER"], os.environ["KS_KEY"])
backend = type(keyring.get_keyring())
print(f"set in {store.description} ({backend.__module__}.{backend.__qualname__})")
"""

KEYSTORE_READ_DELETE = """
import os
from win32ctypes.pywin32 import win32cred
from core.secrets import SERVICE_NAME, OsKeyStore, normalise_server
server = os.environ["KS_SERVER"]
entries = win32cred.CredEnumerate(None, 0) or []
mine = [e for e in entries if e["UserName"] == normalise_server(server) and SERVICE_NAME in e["TargetName"]]
print(f"credential manager entries for this server: {len(mine)}")
store = OsKeyStore()
print("read back: " + ("the same key" if store.get(server) == os.environ["KS_KEY"] else "a different key"))
store.delete(server)
print("after delete: " + ("nothing" if store.get(server) is None else "still there"))
"""


def check_keyring(wine: Wine) -> str:
    server = f"https://keyring-check-{secrets.token_hex(4)}.invalid:5000"
    home = wine.scratch / "keyring"
    env = wine.env(home, KS_SERVER=server, KS_KEY=secrets.token_hex(16))
    scripts = {}
    for name, text in (("set", KEYSTORE_SET), ("read_delete", KEYSTORE_READ_DELETE)):
        scripts[name] = home / f"keystore_{name}.py"
        scripts[name].write_text(text, "utf-8")
    code, out = wine.run(["wine", wine.python, winpath(scripts["set"])], env, "keyring")
    if code != 0 or "WinVaultKeyring" not in out or "Windows Credential Manager" not in out:
        raise CheckError(f"storing the key (exit {code}): {one_line(out)}")
    stored = out.strip().splitlines()[-1]
    code, out = wine.run(["wine", wine.python, winpath(scripts["read_delete"])], env, "keyring")
    wanted = ("entries for this server: 1", "read back: the same key", "after delete: nothing")
    if code != 0 or not all(w in out for w in wanted):
        raise CheckError(f"reading and deleting it in a second process (exit {code}): {one_line(out)}")
    return f"{stored}; a second process found it in Credential Manager, read it and deleted it"


def hold_chord(window_id: str, seconds: float) -> None:
    # Wine sees only the keys its own windows get, so the window has the focus (there is no
    # window manager: XSetInputFocus). xdotool sends real key events through XTEST.
    xdotool("windowfocus", "--sync", window_id)
    xdotool("keydown", CHORD)
    try:
        time.sleep(seconds)
    finally:
        xdotool("keyup", CHORD)


def check_trigger_and_hotkey(wine: Wine) -> tuple[Callable[[], str], Callable[[], str]]:
    """Both checks run on one window; returns the two checks, in order, sharing it."""
    state: dict[str, Any] = {}
    home = wine.scratch / "window"
    stack = contextlib.ExitStack()

    def trigger() -> str:
        sim = stack.enter_context(Simulator(orders=12, mode="analyze", seed=14).start())
        state["sim"] = sim
        process, window_id = stack.enter_context(window(wine, wine.app(), "python.exe", sim, home, "window"))
        state["window"] = (process, window_id)
        # No key in this environment and none in the keyring: a flat verdict can only be the window's.
        code, out = wine.run(wine.app("trigger", "--json"), wine.env(home), "trigger")
        reply = json_in(out)
        left = len(sim.working_orders())
        if code != 0 or reply.get("verdict") != "flat" or left:
            raise CheckError(
                f"exit {code}, verdict {reply.get('verdict')!r}, {left} orders still working: {one_line(out)}"
            )
        if "headline" not in reply or "No Kill Switch window answered" in out:
            raise CheckError(f"the kill did not come from the window over the pipe: {one_line(out)}")
        code, out = wine.run(
            wine.app("--host", sim.url),
            wine.env(home, OPENALGO_API_KEY=sim.apikey),
            "second-launch",
            timeout=120,
        )
        if code != 0 or "brought forward" not in out:
            raise CheckError(f"a second launch (exit {code}) did not find the window: {one_line(out)}")
        if process.poll() is not None or len(app_windows(sim)) != 1:
            raise CheckError(
                f"after a second launch: first window {'gone' if process.poll() is not None else 'running'}, "
                f"{len(app_windows(sim))} windows on the server"
            )
        return (
            f"the window fired over the pipe: verdict flat, {len(reply.get('canceled_orders', []))} "
            f"cancelled, 0 working; a second launch said: {one_line(out, 80)}"
        )

    def hotkey() -> str:
        try:
            if "window" not in state:
                raise CheckError("no window to send the chord to (see trigger)")
            sim: Simulator = state["sim"]
            process, window_id = state["window"]
            sim.add_random_orders(8)  # whatever trigger left, there is something to cancel
            working = len(sim.working_orders())
            calls = sim.stats.cancelall_calls
            hold_chord(window_id, 0.15)
            time.sleep(2.5)
            if sim.stats.cancelall_calls != calls or len(sim.working_orders()) != working:
                raise CheckError(
                    f"a 0.15 s hold fired (hold-to-fire is {HOLD_MS} ms): {sim.stats.cancelall_calls - calls}"
                    f" cancel-all, {len(sim.working_orders())} of {working} working"
                )
            hold_chord(window_id, 1.5)
            wait_until(
                lambda: sim.stats.cancelall_calls > calls and not sim.working_orders(),
                30,
                "a kill after holding the chord 1.5 s",
                process,
            )
            if sim.stats.cancelall_calls != calls + 1:
                raise CheckError(f"one hold sent {sim.stats.cancelall_calls - calls} cancel-alls")
            return f"0.15 s hold: nothing sent, {working} working; 1.5 s hold: one cancel-all, 0 working"
        finally:
            stack.close()

    return trigger, hotkey


def check_build(wine: Wine, source: Path, dist: Path) -> str:
    argv = [
        "wine",
        wine.python,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        winpath(dist),
        "--workpath",
        winpath(wine.scratch / "pyinstaller"),
        winpath(source / "packaging" / "killswitch.spec"),
    ]
    started = time.monotonic()
    env = dict(wine.base_env)
    code, out = wine.run(argv, env, "build", timeout=1200)
    app = dist / "killswitch"
    missing = [name for name in ("killswitch.exe", "killswitch-cli.exe") if not (app / name).is_file()]
    if code != 0 or missing:
        raise CheckError(f"exit {code}, missing {missing}: {one_line(out)}")
    icu = sorted(str(p.relative_to(app)) for p in app.rglob("*") if re.match(r"icu\w*\.dll$", p.name, re.I))
    if icu:
        raise CheckError(f"the build carries ICU DLLs (the stub must stay in the prefix): {icu}")
    size = sum(p.stat().st_size for p in app.rglob("*") if p.is_file())
    warnings = [line.split("WARNING:", 1)[1].strip() for line in out.splitlines() if "WARNING:" in line]
    return (
        f"{size / 2**20:.1f} MiB in {time.monotonic() - started:.0f} s, no ICU DLL; "
        f"build warnings: {'; '.join(warnings) or 'none'}"
    )


def check_frozen(wine: Wine, dist: Path) -> str:
    app = dist / "killswitch"
    cli = winpath(app / "killswitch-cli.exe")
    if not (app / "killswitch-cli.exe").is_file():
        raise CheckError("no build to test (see build)")
    home = wine.scratch / "frozen"
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
    code, out = wine.run(["wine", cli, "--version"], wine.env(home), "frozen")
    if code != 0 or out.strip().splitlines()[-1:] != [f"killswitch {version}"]:
        raise CheckError(f"--version (exit {code}) printed {one_line(out)!r}, not 'killswitch {version}'")
    code, out = wine.run(["wine", cli, "--self-test"], wine.env(home), "frozen")
    if code != 0 or "self-test passed" not in out or "(frozen)" not in out:
        raise CheckError(f"--self-test (exit {code}): {one_line(out)}")
    exe = ["wine", winpath(app / "killswitch.exe")]
    with (
        Simulator(orders=9, mode="analyze", seed=21).start() as sim,
        window(wine, exe, "killswitch.exe", sim, home, "frozen-window") as (process, window_id),
    ):
        code, out = wine.run(["wine", cli, "trigger", "--json"], wine.env(home), "frozen")
        reply = json_in(out)
        left = len(sim.working_orders())
        if code != 0 or reply.get("verdict") != "flat" or "headline" not in reply or left:
            raise CheckError(
                f"trigger to the built window: exit {code}, verdict {reply.get('verdict')!r}, "
                f"{left} still working: {one_line(out)}"
            )
        # The windowed executable has no console to say so; it must exit 0 and open nothing.
        code, out = wine.run([*exe, "--host", sim.url], wine.env(home, OPENALGO_API_KEY=sim.apikey), "frozen")
        if code != 0 or process.poll() is not None or len(app_windows(sim)) != 1:
            raise CheckError(
                f"a second launch of killswitch.exe: exit {code}, first window "
                f"{'gone' if process.poll() is not None else 'running'}, {len(app_windows(sim))} windows"
            )
        # The build's own pynput backend (a hidden import in the spec) sees the chord.
        sim.add_random_orders(5)
        calls = sim.stats.cancelall_calls
        hold_chord(window_id, 1.5)
        wait_until(
            lambda: sim.stats.cancelall_calls > calls and not sim.working_orders(),
            30,
            "a kill from the built window's hotkey",
            process,
        )
    return (
        f"--version 'killswitch {version}', --self-test passed; the built window fired over the pipe "
        "(flat), a second launch exited 0 and opened nothing, the held chord fired it again (flat)"
    )


# --- tls: a loopback HTTPS front for the simulator, with a throw-away CA --------------------------------


def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost from it: (ca.pem, chain.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    valid = {
        "not_valid_before": now - datetime.timedelta(hours=1),
        "not_valid_after": now + datetime.timedelta(days=1),
    }
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"Kill Switch Wine check CA {secrets.token_hex(4)}")]
    )
    ca = (
        x509.CertificateBuilder(
            subject_name=ca_name,
            issuer_name=ca_name,
            public_key=ca_key.public_key(),
            serial_number=x509.random_serial_number(),
            **valid,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder(
            subject_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
            issuer_name=ca_name,
            public_key=key.public_key(),
            serial_number=x509.random_serial_number(),
            **valid,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "chain.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    # The server sends its CA too, as many do. Wine 8's crypt32 passes a chain whose issuer it
    # cannot find at all (CERT_TRUST_IS_PARTIAL_CHAIN, which Windows refuses as CERT_E_CHAINING),
    # so only a complete chain tells "CA trusted" from "CA not trusted" under Wine.
    paths[1].write_bytes(server.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@contextlib.contextmanager
def tls_front(target_port: int, chain: Path, key: Path) -> Iterator[int]:
    """HTTPS on 127.0.0.1 passed through to the simulator's plain HTTP port; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not stopping.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)

    def serve(client: socket.socket) -> None:
        try:
            with (
                context.wrap_socket(client, server_side=True) as tls,
                socket.create_connection(("127.0.0.1", target_port)) as upstream,
            ):
                pipe(tls, upstream)
        except (OSError, ssl.SSLError):
            pass  # a refused handshake is what the first half of the check expects

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(30)
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    acceptor = threading.Thread(target=accept, name="tls-front", daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        acceptor.join(5)
        listener.close()


def check_tls(wine: Wine, here: Path) -> str:
    home = wine.scratch / "tls"
    (home / "certs").mkdir(parents=True, exist_ok=True)
    ca, chain, key = make_ca(home / "certs")
    store = ["wine", wine.python, winpath(here / "cert_store.py")]
    with (
        Simulator(orders=10, mode="analyze", seed=33).start() as sim,
        tls_front(sim.port, chain, key) as port,
    ):
        url = f"https://localhost:{port}"
        env = wine.env(home, OPENALGO_API_KEY=sim.apikey)
        code, out = wine.run(wine.app("cancel-all", "--host", url, "--json"), env, "tls")
        refused = json_in(out)
        if code != 4 or refused.get("verdict") != "unreachable" or TLS_SENTENCE not in out:
            raise CheckError(
                f"without the CA: exit {code}, verdict {refused.get('verdict')!r} (wanted 4, "
                f"unreachable, '{TLS_SENTENCE}'): {one_line(out)}"
            )
        if sim.stats.requests or len(sim.working_orders()) != 10:
            raise CheckError(f"without the CA a request got through: {sim.stats.requests}")
        sentence = next(
            (e for e in refused.get("errors", []) if TLS_SENTENCE in e), refused.get("message", "")
        )
        code, out = wine.run([*store, "add", winpath(ca)], wine.env(home), "tls")
        if code != 0 or "added" not in out:
            raise CheckError(f"could not add the CA to the Windows store: {one_line(out)}")
        first_try = ""
        try:
            for attempt in (1, 2):
                code, out = wine.run(wine.app("cancel-all", "--host", url, "--json"), env, "tls")
                accepted = json_in(out)
                left = len(sim.working_orders())
                if code == 0 and accepted.get("verdict") == "flat" and not left:
                    break
                said = [accepted.get("message", ""), *accepted.get("errors", [])]
                why = one_line(" | ".join(str(e) for e in said if e) or out, 600)
                failed = (
                    f"with the CA in the Windows store: exit {code}, verdict {accepted.get('verdict')!r}, "
                    f"{left} still working; said: {why}"
                )
                # Once in CI (2026-11-30, at 2cd9c11) the first command after the CA went in ended
                # unreachable; its reason was cut off then. Only a refusal of the certificate is
                # tried again, once, after asking the store whether it has the CA (nothing was
                # sent: the key goes only over a trusted connection); the detail says so.
                if attempt == 2 or TLS_SENTENCE not in why:
                    raise CheckError(failed + (f" (first attempt: {first_try})" if first_try else ""))
                has_code, has_out = wine.run([*store, "has", winpath(ca)], wine.env(home), "tls")
                first_try = f"{failed}; the store then said: {one_line(has_out, 120)} (exit {has_code})"
                note("tls", f"trying once more: {first_try}")
                time.sleep(2.0)
        finally:
            code, out = wine.run([*store, "remove", winpath(ca)], wine.env(home), "tls")
            if code != 0 or "removed" not in out:
                note("tls", f"taking the CA out of the store again failed: {one_line(out)}")
    return (
        f"without the CA: exit 4, {one_line(sentence, 160)!r}, nothing sent; with it in the user's Root "
        f"store: flat, {len(accepted.get('canceled_orders', []))} cancelled"
        + (f" at the second attempt (the first: {first_try})" if first_try else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scratch", type=Path, required=True)
    parser.add_argument(
        "--source", type=Path, required=True, help="the copy of the checkout installed in the prefix"
    )
    parser.add_argument("--python", required=True, help="Windows path of the prefix's python.exe")
    options = parser.parse_args()
    wine = Wine(options.python, options.scratch)
    dist = options.scratch / "dist"
    trigger, hotkey = check_trigger_and_hotkey(wine)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("self-test", lambda: check_self_test(wine)),
        ("keyring", lambda: check_keyring(wine)),
        ("trigger", trigger),
        ("hotkey", hotkey),
        ("build", lambda: check_build(wine, options.source, dist)),
        ("frozen", lambda: check_frozen(wine, dist)),
        ("tls", lambda: check_tls(wine, Path(__file__).resolve().parent)),
    ]
    failed = 0
    for name, check in checks:
        started = time.monotonic()
        try:
            detail = check()
        except CheckError as exc:
            failed += 1
            print(f"FAIL {name}: {exc}", flush=True)
        except Exception as exc:  # a broken check is a failed check, with what broke
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {one_line(str(exc))}", flush=True)
        else:
            print(f"PASS {name}", flush=True)
            note(name, detail)
        note(name, f"{time.monotonic() - started:.0f} s")
    print(f"{len(checks) - failed} passed, {failed} failed", flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
