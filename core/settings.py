"""Plain, non-secret settings: server, strategy label, firing policy, hotkey, poll interval.

Stored as JSON under the platform's config directory. The API key is never here: it lives
in the OS keyring (see ``core.secrets``), and ``Settings`` has no field that could hold it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs

from core import DEFAULT_DEADLINE_S, DEFAULT_STRATEGY
from core.addresses import normalise_host
from core.files import write_atomically
from core.scope import KillScope

APP_DIR_NAME = "openalgo-killswitch"
DEFAULT_HOST = "http://127.0.0.1:5000"
DEFAULT_HOTKEY = "<ctrl>+<alt>+<shift>+k"


class FiringPolicy(StrEnum):
    IMMEDIATE = "immediate"
    HOLD = "hold"
    CONFIRM = "confirm"


@dataclass(frozen=True, slots=True)
class Server:
    """One OpenAlgo server the kill reaches. Its key lives in the OS keyring under its URL."""

    url: str
    label: str = ""
    strategy: str = DEFAULT_STRATEGY
    enabled: bool = True  # switched off: kept, but left out of kills

    @property
    def name(self) -> str:
        """What the window calls it: its label, or its URL."""
        return self.label or self.url

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "label": self.label, "strategy": self.strategy, "enabled": self.enabled}

    @classmethod
    def from_json(cls, raw: Any) -> Server | None:
        """A saved server, or None when it is not one (no usable URL)."""
        if not isinstance(raw, dict):
            return None
        url = normalise_host(str(raw.get("url", "")))
        if url is None:
            return None
        label = raw.get("label")
        strategy = raw.get("strategy")
        enabled = raw.get("enabled")
        return cls(
            url=url,
            label=label.strip() if isinstance(label, str) else "",
            strategy=(strategy.strip() if isinstance(strategy, str) else "") or DEFAULT_STRATEGY,
            enabled=enabled if isinstance(enabled, bool) else True,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    strategy: str = DEFAULT_STRATEGY
    poll_interval_s: float = 1.0
    # Hold-to-fire by default: a desk wants the kill one deliberate gesture away, with no
    # dialog to find and click under stress, and no accidental fire from a stray click.
    firing_policy: FiringPolicy = FiringPolicy.HOLD
    hold_ms: int = 600
    hotkey: str = DEFAULT_HOTKEY
    hotkey_enabled: bool = True
    show_all_orders: bool = False
    always_on_top: bool = False
    # One deadline for a whole kill: see core.DEFAULT_DEADLINE_S and the README.
    deadline_s: float = DEFAULT_DEADLINE_S
    # The scope of a kill (core.scope): cancel orders always; these add to it.
    close_positions: bool = False
    guard_s: float = 0.0
    halt: bool = False
    # Every server a press reaches, in order. Empty in settings saved before there could be
    # several: then ``host`` and ``strategy`` are the one server (see :meth:`server_list`).
    servers: tuple[Server, ...] = ()
    # Where the window was at its last close (inside its frame; width 0: never saved), and how
    # its splitters stood: the order book's and results' height, the order book's width (0: the
    # window's own default). ui.window_placement fits them into the screen's available area.
    window_x: int = 0
    window_y: int = 0
    window_width: int = 0
    window_height: int = 0
    window_maximized: bool = False
    lower_height: int = 0
    orders_width: int = 0

    def validated(self) -> Settings:
        """A copy with out-of-range values pulled back into range."""
        servers = tuple(_unique_servers(self.servers))
        first = servers[0] if servers else None
        return replace(
            self,
            host=first.url if first is not None else normalise_host(self.host) or DEFAULT_HOST,
            strategy=first.strategy if first is not None else self.strategy.strip() or DEFAULT_STRATEGY,
            poll_interval_s=min(max(_finite(self.poll_interval_s, 1.0), 0.2), 60.0),
            hold_ms=min(max(self.hold_ms, 100), 5000),
            deadline_s=min(max(_finite(self.deadline_s, 30.0), 1.0), 600.0),
            guard_s=0.0 if _finite(self.guard_s, 0.0) < 1 else min(self.guard_s, 3600.0),
            servers=servers,
            window_x=min(max(self.window_x, -_MAX_PIXELS), _MAX_PIXELS),
            window_y=min(max(self.window_y, -_MAX_PIXELS), _MAX_PIXELS),
            window_width=min(max(self.window_width, 0), _MAX_PIXELS),
            window_height=min(max(self.window_height, 0), _MAX_PIXELS),
            lower_height=min(max(self.lower_height, 0), _MAX_PIXELS),
            orders_width=min(max(self.orders_width, 0), _MAX_PIXELS),
        )

    def server_list(self) -> tuple[Server, ...]:
        """Every configured server: the saved list, or the one server of older settings."""
        return self.servers or (Server(self.host, "", self.strategy, True),)

    def enabled_servers(self) -> tuple[Server, ...]:
        return tuple(s for s in self.server_list() if s.enabled)

    def scope(self) -> KillScope:
        return KillScope(self.close_positions, self.guard_s, self.halt)


def _unique_servers(servers: tuple[Server, ...]) -> list[Server]:
    """The servers with usable URLs, normalised, each URL once (the first one kept)."""
    seen: set[str] = set()
    kept = []
    for server in servers:
        url = normalise_host(server.url)
        if url is not None and url not in seen:
            seen.add(url)
            kept.append(replace(server, url=url, strategy=server.strategy.strip() or DEFAULT_STRATEGY))
    return kept


def _finite(value: float, default: float) -> float:
    """``value``, or ``default`` when it is NaN or infinite: JSON accepts ``NaN`` and
    ``float("nan")`` parses, and every comparison with NaN is false, so min/max let it through."""
    return value if math.isfinite(value) else default


_MAX_PIXELS = 100_000  # window geometry beyond this is not a screen, it is a damaged file


def config_dir() -> Path:
    override = os.environ.get("KILLSWITCH_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    override = os.environ.get("KILLSWITCH_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load(path: Path | None = None) -> Settings:
    """Settings from disk; defaults for anything missing or unreadable (never raises)."""
    path = path or settings_path()
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    return from_dict(raw)


def from_dict(raw: dict[str, Any]) -> Settings:
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in raw:
            continue
        default = getattr(defaults, f.name)
        value = raw[f.name]
        if f.name == "servers":
            if isinstance(value, list):
                values["servers"] = tuple(s for s in map(Server.from_json, value) if s is not None)
            continue
        try:
            if isinstance(default, FiringPolicy):
                value = FiringPolicy(value)
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    continue
            elif isinstance(default, int):
                value = int(value)
            elif isinstance(default, float):
                value = float(value)
            elif isinstance(default, str):
                value = str(value)
        except (TypeError, ValueError, OverflowError):  # int(Infinity): JSON allows it
            continue
        values[f.name] = value
    return Settings(**values).validated()


def saved_host(path: Path | None = None) -> str | None:
    """The server URL as saved in the settings file, exactly as written (possibly blank); None
    when no settings were ever saved or they name no server. Unlike :func:`load`, never a
    default: the command line must not fire at a server nobody chose."""
    try:
        raw = json.loads((path or settings_path()).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    host = raw.get("host") if isinstance(raw, dict) else None
    return host if isinstance(host, str) else None


def save(settings: Settings, path: Path | None = None) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    data = asdict(settings)
    data["firing_policy"] = settings.firing_policy.value
    data["servers"] = [server.to_json() for server in settings.servers]
    write_atomically(
        path or settings_path(), lambda handle: json.dump(data, handle, indent=2, sort_keys=True)
    )
