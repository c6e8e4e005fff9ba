"""``hub keys generate``: fresh key material for a new installation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import emit_json, fail, stdout
from hub.identity.keys import generate_key

app = typer.Typer(help="Key material.", no_args_is_help=True)

_NAMES = ("pepper", "master_key", "pseudonym_key")


def write_key_files(folder: Path) -> dict[str, Path]:
    """Write one new key per file (mode 0600), refusing to overwrite existing keys."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in _NAMES}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        fail(f"refusing to overwrite existing key files: {', '.join(existing)}")
    for path in paths.values():
        path.touch(mode=0o600)
        path.write_text(generate_key() + "\n", encoding="ascii")
    return paths


@app.command("generate")
def generate(
    write: Annotated[
        Path | None,
        typer.Option("--write", help="Write key files into this folder instead of printing."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print new keys as HUB_ environment lines, or write them as files for file references."""
    if write is not None:
        paths = write_key_files(write)
        refs = {name: {"file": str(path)} for name, path in paths.items()}
        if json_output:
            emit_json(refs)
            return
        stdout.print("[security]", markup=False)
        for name, path in paths.items():
            stdout.print(f'{name} = {{file = "{path}"}}', markup=False)
        return
    keys = {f"HUB_SECURITY__{name.upper()}": generate_key() for name in _NAMES}
    if json_output:
        emit_json(keys)
        return
    for variable, value in keys.items():
        stdout.print(f"{variable}={value}", markup=False)
