"""Shared terminal output: progress bars on stderr, so stdout stays clean for `--json`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

stderr_console = Console(stderr=True)


def progress() -> Progress:
    """A rich progress display for long steps; it draws on stderr and vanishes when not a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr_console,
        transient=True,
    )


def print_json(value: BaseModel | dict[str, Any] | list[Any]) -> None:
    """Print a model or plain value as JSON on stdout, with nothing else on the line."""
    if isinstance(value, BaseModel):
        print(value.model_dump_json(indent=2))
    else:
        print(json.dumps(value, indent=2, sort_keys=True, default=str))
