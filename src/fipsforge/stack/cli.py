"""`fipsforge stack`: build the FIPS stack and check it."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build the OpenSSL FIPS + jitterentropy stack and prove it.", no_args_is_help=True)
