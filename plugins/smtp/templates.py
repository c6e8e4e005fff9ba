"""Email templates on disk: ``<name>.txt`` (subject line + text body) and optional ``<name>.html``.

Templates are plain files an operator can edit and review, rendered with ``string.Template``
(``${var}``): no logic, no attribute access, nothing a template author could use to reach data
the brick was not given. Every failure is a ``PayloadRejected`` naming the template or the
missing variable, so the core dead-letters the message with a reason an operator can act on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from contracts import PayloadRejected

__all__ = ["Rendered", "TemplateStore"]

#: A template name is a file stem: no directories, no hidden files, no "..".
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SUBJECT = re.compile(r"^subject:[ \t]*", re.IGNORECASE)


@dataclass(frozen=True)
class Rendered:
    """One message's text, ready to go into an ``EmailMessage``."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class _Source:
    subject: Template
    text: Template
    html: Template | None


class TemplateStore:
    """Reads templates from one folder; a store lives for one send or one batch.

    Files are read again for each store, so an edited template takes effect on the next send
    without restarting the worker, and a batch never mixes two versions of one template.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, _Source] = {}

    def render(self, name: str, variables: Mapping[str, str]) -> Rendered:
        """Fill template ``name`` with ``variables``; HTML values are escaped."""
        source = self._load(name)
        _require(name, variables, source)
        subject = source.subject.substitute(variables)
        return Rendered(
            # A value with a line break must not fold the Subject into a second header.
            subject=" ".join(subject.split()),
            text=source.text.substitute(variables),
            html=None
            if source.html is None
            else source.html.substitute({k: html.escape(v) for k, v in variables.items()}),
        )

    def _load(self, name: str) -> _Source:
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> _Source:
        if not _NAME.fullmatch(name) or ".." in name:
            raise PayloadRejected(
                f"template name {name!r} is not a plain file name", field="template"
            )
        text = self._file(name, ".txt")
        if text is None:
            raise PayloadRejected(
                f"template {name!r} not found: create {name}.txt in templates_dir",
                field="template",
            )
        first, _, body = text.partition("\n")
        match = _SUBJECT.match(first)
        if match is None:
            raise PayloadRejected(
                f"template {name!r}: the first line of {name}.txt must be 'Subject: ...'",
                field="template",
            )
        if body.startswith("\r\n"):
            body = body[2:]
        elif body.startswith("\n"):
            body = body[1:]  # the blank line separating the subject from the body
        markup = self._file(name, ".html")
        source = _Source(
            subject=Template(first[match.end() :].strip()),
            text=Template(body),
            html=None if markup is None else Template(markup),
        )
        for part in (source.subject, source.text, source.html):
            if part is not None and not part.is_valid():
                raise PayloadRejected(
                    f"template {name!r} has an invalid placeholder: write ${{name}}, "
                    "and $$ for a literal dollar sign",
                    field="template",
                )
        return source

    def _file(self, name: str, suffix: str) -> str | None:
        path = self.directory / f"{name}{suffix}"
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise PayloadRejected(
                f"template {name}{suffix} is not UTF-8 text", field="template"
            ) from None
        except OSError as exc:
            raise PayloadRejected(
                f"template {name}{suffix} cannot be read ({type(exc).__name__})",
                field="template",
            ) from None


def _require(name: str, variables: Mapping[str, str], source: _Source) -> None:
    """Refuse a message whose template names a value nobody supplied."""
    needed: set[str] = set()
    for part in (source.subject, source.text, source.html):
        if part is not None:
            needed.update(part.get_identifiers())
    missing = sorted(needed - set(variables))
    if missing:
        raise PayloadRejected(
            f"template {name!r} needs {', '.join(missing)}: pass them as variables "
            "(first_name and last_name come from the contact when the brick may receive them)",
            field=f"variables.{missing[0]}",
        )
