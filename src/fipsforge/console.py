"""Shared terminal output: progress bars on stderr, so stdout stays clean for `--json`.

rich is imported on first use of `stderr_console` or `progress()`: a `--json` command that draws
nothing starts without it (about 30 ms)."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    stderr_console: Console


@functools.cache
def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def __getattr__(name: str) -> Any:
    """`stderr_console`, made once, when a command first draws on stderr."""
    if name == "stderr_console":
        return _stderr_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def progress() -> Progress:
    """A rich progress display for long steps; it draws on stderr and vanishes when not a terminal."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=_stderr_console(),
        transient=True,
    )


def print_json(value: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Print a model or plain value as JSON on stdout, with nothing else on the line."""
    if isinstance(value, BaseModel):
        print(value.model_dump_json(indent=2))
    else:
        print(json.dumps(value, indent=2, sort_keys=True, default=str))
