"""Run key store operations in a fresh process, as the app would, and report them as JSON.

keyring chooses its backend once per process, from the environment it starts in (and caches
the list of viable backends for good), so only a fresh process shows what the app would get
from a given environment. The system tests run this module with the environment of their
private session bus:

    python -X dev -W error -m tests.system.keystore_probe < ops.json

stdin: {"store": "os" | "choose", "ops": [["set", server, key], ["get", server],
        ["delete", server], ["check"]]}
stdout: {"store": repr, "description": ..., "choice_problem": error | null,
         "results": [{"value": ...} | {"error": {...}}], "log": [lines]}

`-W error -X dev` make a leaked socket or any other warning show up on stderr, which the tests
expect to be empty.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from core.secrets import KeyStore, KeyStoreError, OsKeyStore, choose_key_store


def _error(error: KeyStoreError) -> dict[str, str]:
    return {
        "problem": error.problem.value,
        "sentence": error.sentence,
        "str": str(error),
        "repr": repr(error),
        "detail": error.detail,
        "args": repr(error.args),
    }


def main() -> None:
    request = json.load(sys.stdin)
    log_lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log_lines.append(self.format(record))

    logging.basicConfig(level=logging.DEBUG, handlers=[Collect()])

    report: dict[str, Any] = {"choice_problem": None}
    store: KeyStore
    if request["store"] == "choose":
        choice = choose_key_store()
        store = choice.store
        report["choice_problem"] = choice.problem and _error(choice.problem)
    else:
        store = OsKeyStore()
    results: list[dict[str, Any]] = []
    for op, *args in request["ops"]:
        try:
            if op == "check":
                assert isinstance(store, OsKeyStore)
                problem = store.check()
                results.append({"value": problem and _error(problem)})
            else:
                results.append({"value": getattr(store, op)(*args)})
        except KeyStoreError as error:
            results.append({"error": _error(error)})
    report.update(store=repr(store), description=store.description, results=results, log=log_lines)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
