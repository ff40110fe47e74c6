"""Pages generated from the code at build time, so they cannot drift from it.

``.. sessionkeeper-config::``
    the table of every key of :data:`sessionkeeper.config.DEFAULTS`, with its
    default and its line from :data:`sessionkeeper.config.DOCS`.
``.. sessionkeeper-openapi::``
    the key-value service's routes, parameters and answers, read from
    :func:`sessionkeeper.kv.openapi.document`.
``.. sessionkeeper-markdown:: GLOB``
    every Markdown file matching ``GLOB`` (relative to the repository's root),
    newest name first, included through MyST.

Each directive writes reStructuredText and parses it in place, and records the
module or files it read as dependencies of the page.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.typing import ExtensionMetadata

ROOT = Path(__file__).resolve().parents[2]


def _duration(td: timedelta) -> str:
    total = int(td.total_seconds())
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if total % size == 0:
            count = total // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{td.total_seconds()} seconds"  # pragma: no cover (every default is whole)


def render_default(key: str, value: Any) -> str:
    """A default as the reference shows it: durations in words, the rest as Python."""
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, float) and key.endswith(("TIMEOUT", "DEADLINE", "TTL")):
        seconds = int(value) if value.is_integer() else value
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"``{value!r}``"


def _cell(text: str) -> str:
    """Text from the code, on one line, with reStructuredText's markup characters escaped."""
    return re.sub(r"([\\*`|_])", r"\\\1", " ".join(text.split()))


def config_table() -> list[str]:
    """The configuration reference as a list-table."""
    from sessionkeeper.config import DEFAULTS, DOCS

    missing = sorted(set(DEFAULTS) ^ set(DOCS))
    if missing:
        raise ValueError(f"DEFAULTS and DOCS name different keys: {missing}")
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 28 14 58",
        "",
        "   * - key",
        "     - default",
        "     - meaning",
    ]
    for key, value in DEFAULTS.items():
        lines += [
            f"   * - .. _config-{key}:",
            "",
            f"       ``{key}``",
            f"     - {render_default(key, value)}",
            f"     - {' '.join(DOCS[key].split())}",  # DOCS is reStructuredText,
        ]
    return lines


class ConfigDirective(SphinxDirective):
    """Render the table of every ``SESSION_*`` key, its default and its meaning."""

    def run(self) -> list[nodes.Node]:
        import sessionkeeper.config

        self.env.note_dependency(str(sessionkeeper.config.__file__))
        return self.parse_text_to_nodes("\n".join(config_table()))


def _resolve(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to what it names."""
    while "$ref" in item:
        target: Any = doc
        for part in item["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        item = target
    return item


def _schema_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "oneOf" in schema:
        return " or ".join(_schema_type(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind)


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


def openapi_lines() -> list[str]:
    """The routes of the OpenAPI document, one subsection per operation."""
    from sessionkeeper.kv.openapi import document

    doc = document()
    info = doc["info"]
    lines = [_cell(info["description"]), ""]
    lines += [f"OpenAPI {doc['openapi']}, API version {info['version']}.", ""]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method not in {"get", "put", "post", "delete", "patch", "head"}:
                continue
            title = f"{method.upper()} {path}"
            lines += [title, "~" * len(title), "", _cell(op.get("summary", "")), ""]
            if op.get("description"):
                lines += [_cell(op["description"]), ""]
            if op.get("security") == []:
                lines += ["No token needed.", ""]
            params = [_resolve(doc, p) for p in op.get("parameters", [])]
            if params:
                lines += [
                    ".. list-table:: Parameters",
                    "   :header-rows: 1",
                    "   :widths: 18 10 10 12 50",
                    "",
                    "   * - name",
                    "     - in",
                    "     - required",
                    "     - type",
                    "     - description",
                ]
                for p in params:
                    lines += [
                        f"   * - ``{p['name']}``",
                        f"     - {p['in']}",
                        f"     - {'yes' if p.get('required') else 'no'}",
                        f"     - {_schema_type(p.get('schema', {}))}",
                        f"     - {_cell(p.get('description', ''))}",
                    ]
                lines.append("")
            body = op.get("requestBody")
            if body:
                kinds = ", ".join(f"``{k}``" for k in body.get("content", {}))
                lines += [f"Request body: {kinds}.", ""]
            lines += [
                ".. list-table:: Answers",
                "   :header-rows: 1",
                "   :widths: 10 60 30",
                "",
                "   * - status",
                "     - meaning",
                "     - body",
            ]
            for status, answer in op.get("responses", {}).items():
                answer = _resolve(doc, answer)
                content = answer.get("content", {})
                bodies = ", ".join(
                    f"{_literal(kind)} {_schema_type(c.get('schema', {}))}".strip()
                    for kind, c in content.items()
                )
                lines += [
                    f"   * - {status}",
                    f"     - {_cell(answer.get('description', ''))}",
                    f"     - {bodies or '(none)'}",
                ]
            lines.append("")
    return lines


def openapi_components() -> list[str]:
    """Headers and schemas the operations refer to, and the whole document."""
    from sessionkeeper.kv.openapi import document

    doc = document()
    components = doc.get("components", {})
    lines = ["Headers", "~~~~~~~", ""]
    for name, header in components.get("headers", {}).items():
        lines += [f"``{name}``", f"   {_cell(header.get('description', ''))}", ""]
    lines += ["Security", "~~~~~~~~", ""]
    for name, scheme in components.get("securitySchemes", {}).items():
        desc = _cell(scheme.get("description", ""))
        lines += [f"``{name}``", f"   {scheme.get('type', '')} {scheme.get('scheme', '')}. {desc}"]
        lines.append("")
    lines += ["The document", "~~~~~~~~~~~~", ""]
    lines += [
        "The service answers it at ``GET /openapi.json``; as built for this page:",
        "",
        ".. code-block:: json",
        "",
    ]
    lines += ["   " + line for line in json.dumps(doc, indent=2).splitlines()]
    return lines


class OpenApiDirective(SphinxDirective):
    """Render the KV service's HTTP API from its OpenAPI document."""

    def run(self) -> list[nodes.Node]:
        import sessionkeeper.kv.openapi
        import sessionkeeper.kv.openapi_parts

        for module in (sessionkeeper.kv.openapi, sessionkeeper.kv.openapi_parts):
            self.env.note_dependency(str(module.__file__))
        text = "\n".join([*openapi_lines(), *openapi_components()])
        return self.parse_text_to_nodes(text, allow_section_headings=True)


class MarkdownDirective(SphinxDirective):
    """Include every Markdown file matching a glob under the repository root, newest first."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        files = sorted(ROOT.glob(self.arguments[0]), reverse=True)
        if not files:
            raise self.error(f"no file matches {self.arguments[0]!r}")
        here = Path(self.env.doc2path(self.env.docname)).parent
        lines: list[str] = []
        for path in files:
            self.env.note_dependency(str(path))
            rel = Path(*[".."] * len(here.relative_to(ROOT).parts), path.relative_to(ROOT))
            lines += [f".. include:: {rel.as_posix()}", "   :parser: myst_parser.sphinx_", ""]
        return self.parse_text_to_nodes("\n".join(lines), allow_section_headings=True)


def setup(app: Sphinx) -> ExtensionMetadata:
    """Register the directives."""
    app.add_directive("sessionkeeper-config", ConfigDirective)
    app.add_directive("sessionkeeper-openapi", OpenApiDirective)
    app.add_directive("sessionkeeper-markdown", MarkdownDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
