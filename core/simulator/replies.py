"""What the simulated server sends back: a status, a body and a content type, or nothing at all.

Bodies are written as Flask's ``jsonify`` writes them: keys sorted, compact, with a trailing newline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """An answer to send, or ``dropped``: close the connection without a word."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    dropped: bool = False


DROPPED = Reply(0, dropped=True)


def json_reply(status: int, payload: Any) -> Reply:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"
    return Reply(status, body.encode())


INTERNAL_ERROR = json_reply(500, {"message": "Internal Server Error"})
