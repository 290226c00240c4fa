"""``/api/docs``: the API's reference, rendered on the server from its own OpenAPI document.

FastAPI's default page loads Swagger UI's scripts and styles from a CDN, so on a monitoring box with
no way out (the usual case) it is blank. This page is plain HTML and CSS with no script and no
request to anywhere else: every route with its parameters, bounds and answers, the schemas, a
form to try each GET route that takes only query parameters, and a link to the raw document.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

OPENAPI_PATH = "/api/openapi.json"

# OpenAPI documents are JSON of arbitrary shape; this module only reads them.
Json = Mapping[str, Any]

_CONSTRAINTS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
)


def _type(schema: Json) -> str:
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return " | ".join(_type(s) for s in schema[union])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    fmt = schema.get("format")
    return escape(f"{kind} ({fmt})" if fmt else kind)


def _constraints(schema: Json) -> str:
    found = [template.format(schema[key]) for key, template in _CONSTRAINTS if key in schema]
    for union in ("anyOf", "oneOf"):
        for option in schema.get(union, ()):
            found += [template.format(option[key]) for key, template in _CONSTRAINTS if key in option]
    if "default" in schema:
        found.append(f"default {schema['default']}")
    return escape(", ".join(found))


def _parameters(parameters: list[Json]) -> str:
    if not parameters:
        return "<p class=none>No parameters.</p>"
    rows = "".join(
        f"<tr><td><code>{escape(str(p['name']))}</code></td><td>{escape(str(p.get('in', '')))}</td>"
        f"<td>{_type(p.get('schema', {}))}</td><td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{_constraints(p.get('schema', {}))}</td>"
        f"<td>{escape(str(p.get('description') or p.get('schema', {}).get('description', '')))}</td></tr>"
        for p in parameters
    )
    return (
        "<table><thead><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>bounds</th>"
        f"<th>meaning</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _responses(responses: Json) -> str:
    items = []
    for code, answer in sorted(responses.items()):
        content: Json = answer.get("content", {})
        media: Json = next(iter(content.values()), {})
        schema: Json | None = media.get("schema")
        shape = f": {_type(schema)}" if schema else ""
        items.append(
            f"<li><b>{escape(str(code))}</b> {escape(str(answer.get('description', '')))}{shape}</li>"
        )
    return f"<ul class=responses>{''.join(items)}</ul>"


def _try_form(path: str, parameters: list[Json]) -> str:
    """A plain HTML form for a GET route whose parameters are all in the query."""
    if any(p.get("in") != "query" for p in parameters):
        return ""
    fields = "".join(
        f'<label>{escape(str(p["name"]))} <input name="{escape(str(p["name"]))}" '
        f'placeholder="{escape(str(p.get("schema", {}).get("default", "")))}"></label> '
        for p in parameters
    )
    return f'<form class=try method=get action="{escape(path)}">{fields}<button>try it</button></form>'


def _route(path: str, method: str, operation: Json) -> str:
    anchor = f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
    parameters = list(operation.get("parameters", []))
    summary = escape(str(operation.get("summary", "")))
    description = escape(str(operation.get("description", "")))
    form = _try_form(path, parameters) if method == "get" else ""
    return (
        f'<section class=route id="{escape(anchor)}"><h3><span class=method>{method.upper()}</span> '
        f"<code>{escape(path)}</code> <small>{summary}</small></h3>"
        f"{f'<p>{description}</p>' if description else ''}"
        f"{_parameters(parameters)}{_responses(operation.get('responses', {}))}{form}</section>"
    )


def _schema(name: str, schema: Json) -> str:
    required = set(schema.get("required", ()))
    rows = "".join(
        f"<tr><td><code>{escape(field)}</code></td><td>{_type(spec)}</td>"
        f"<td>{'yes' if field in required else 'no'}</td><td>{_constraints(spec)}</td></tr>"
        for field, spec in schema.get("properties", {}).items()
    )
    body = (
        f"<table><thead><tr><th>field</th><th>type</th><th>required</th><th>bounds</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if rows
        else f"<p>{_type(schema)}</p>"
    )
    return f'<section class=schema id="schema-{escape(name)}"><h3>{escape(name)}</h3>{body}</section>'


def render_docs(spec: Json) -> str:
    """The whole page for one OpenAPI document."""
    info = spec.get("info", {})
    routes = [
        _route(path, method, operation)
        for path, methods in spec.get("paths", {}).items()
        for method, operation in methods.items()
    ]
    index = "".join(
        f'<li><a href="#{escape(f"{m}-{p}".replace("/", "-").replace("{", "").replace("}", ""))}">'
        f"{m.upper()} {escape(p)}</a></li>"
        for p, methods in spec.get("paths", {}).items()
        for m in methods
    )
    schemas = "".join(
        _schema(name, schema)
        for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items())
    )
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · API</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0}} th,td{{padding:4px 10px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}}
code{{font:13px ui-monospace,monospace}} .method{{display:inline-block;min-width:3.5em;color:#fff;background:#1565c0;
border-radius:3px;padding:1px 6px;font-size:12px;text-align:center}} small{{color:#555;font-weight:normal}}
section.route{{border-top:1px solid #ddd;padding-top:.5em}} .none{{color:#777}} form.try input{{width:9em}}
</style></head><body>
<h1>{title} API</h1>
<p>Every error answers <code>{{"error": ..., "status": ..., "hint": ...}}</code>. The machine-readable
document is <a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>.</p>
<nav><ul>{index}</ul></nav>
<h2>Routes</h2>
{"".join(routes)}
<h2>Schemas</h2>
{schemas}
</body></html>
"""


def router(app: FastAPI) -> APIRouter:
    api = APIRouter()
    page: list[str] = []  # rendered on first request: the routes are all known by then

    @api.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not page:
            page.append(render_docs(app.openapi()))
        return HTMLResponse(page[0])

    return api
