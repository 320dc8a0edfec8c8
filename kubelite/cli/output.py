"""How the ``kubelite`` command talks: log records and start-up failures.

Logs: one line per record with an ISO-8601 UTC time (``2026-12-08T01:41:29.123Z WARNING
kubelite.server: ...``), never wrapped, when stderr is not a terminal (journald, a file, CI);
on a terminal, rich's coloured handler with the same time format. INFO by default, ``-v`` or
``--debug`` DEBUG; the flags work before or after the subcommand.

Failures: ``fail(exc, debug=...)`` prints ``Error: <cause and fix>`` on one line and exits 1;
the traceback only with ``--debug``.
"""
from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import NoReturn

import click

_state = {"verbose": 0, "debug": False}


class IsoFormatter(logging.Formatter):
    """``2026-12-08T01:41:29.123Z LEVEL logger: message`` -- one line per record."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        t = time.gmtime(record.created)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.exc_info or record.stack_info else text.replace("\n", " ")


def configure_logging(*, verbose: int = 0, debug: bool = False) -> None:
    """(Re)configure the root logger; called by the group and again by each subcommand, so
    ``kubelite -v server`` and ``kubelite server -v`` mean the same (the counts add up)."""
    _state["verbose"] = int(_state["verbose"]) + verbose
    _state["debug"] = bool(_state["debug"]) or debug
    v = int(_state["verbose"])
    level = logging.DEBUG if _state["debug"] or v >= 2 else logging.INFO if v == 1 else logging.WARNING
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False,
                              log_time_format="%Y-%m-%dT%H:%M:%S")
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def debugging() -> bool:
    return bool(_state["debug"])


def log_options(f):  # noqa: ANN001, ANN201 - a click decorator
    """``-v/--verbose`` and ``--debug`` on a command (the group has them too)."""

    def on_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
        if value:
            configure_logging(verbose=value)

    def on_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            configure_logging(debug=True)

    f = click.option("--debug", is_flag=True, expose_value=False, callback=on_debug,
                     help="Debug logging, and tracebacks for errors.")(f)
    return click.option("-v", "--verbose", count=True, expose_value=False, callback=on_verbose,
                        help="More logging (-v: debug; the default is info).")(f)


def fail(message: str, exc: BaseException | None = None) -> NoReturn:
    """One line on stderr, exit status 1; the traceback of ``exc`` first under ``--debug``."""
    if exc is not None and debugging():
        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if debugging() or exc is None else " (--debug shows the traceback)"
    print(f"Error: {message}{hint}", file=sys.stderr, flush=True)
    raise SystemExit(1)
