"""Templates rendered in Jinja2's sandbox: all of a message or a per-recipient error.

Shared by marketing's email templates and integrations' automation rules. Pure Python, no I/O.
Templates are written by tenant users, so they run in a SandboxedEnvironment
(no attribute access to internals such as __class__, bounded ranges and repetitions) with
StrictUndefined (a misspelt variable is an error, not an empty string); `default(...)` gives a
fallback. HTML parts are autoescaped; subject and text are not (they are not HTML).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crmkit.errors import Validator

MAX_SOURCE = 200_000
MAX_OUTPUT = 1_000_000
PARTS = ("subject", "htmlBody", "textBody")


class _Sandbox(SandboxedEnvironment):
    """The sandbox, also bounding `*` and `**` so a template cannot build a huge string or number."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and (abs(_number(left)) > 1000 or abs(_number(right)) > 100):
            raise TemplateError("the ** operator is limited to small numbers in templates")
        if op == "*":
            sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
            factor = right if sized and sized[0] is left else left
            if sized and isinstance(factor, int) and len(sized[0]) * factor > MAX_OUTPUT:
                raise TemplateError("the * operator would build too large a value")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


_TEXT = _Sandbox(undefined=StrictUndefined, autoescape=False)
_HTML = _Sandbox(undefined=StrictUndefined, autoescape=True)


@lru_cache(maxsize=256)
def _compiled(html: bool, source: str) -> Template:
    """A campaign renders one template for many recipients: compile each source once."""
    return (_HTML if html else _TEXT).from_string(source)


@dataclass(frozen=True)
class TemplateParts:
    subject: str
    html_body: str
    text_body: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    html_body: str
    text_body: str


@dataclass(frozen=True)
class RenderError:
    """Why this recipient gets no message (the part that failed and Jinja's message)."""

    part: str
    message: str


def validate(parts: TemplateParts) -> TemplateParts:
    """The parts, checked to be valid templates, each problem named by its field."""
    check = Validator()
    subject = check.text("subject", parts.subject, 998)
    html = check.text("htmlBody", parts.html_body, MAX_SOURCE, multiline=True)
    text = check.text("textBody", parts.text_body, MAX_SOURCE, multiline=True)
    if not subject:
        check.add("subject", "is required")
    if not html and not text:
        check.add("htmlBody", "a template needs an HTML or a text body (or both)")
    for name, source, is_html in (("subject", subject, False), ("htmlBody", html, True), ("textBody", text, False)):
        problem = check_syntax(source, is_html)
        if problem:
            check.add(name, problem)
    check.raise_if_any()
    return TemplateParts(subject, html, text)


def render(parts: TemplateParts, context: dict[str, Any]) -> Rendered | RenderError:
    """Every part rendered, or the first error: never a half-rendered message."""
    output: dict[str, str] = {}
    for name, source, html in (
        ("subject", parts.subject, False),
        ("htmlBody", parts.html_body, True),
        ("textBody", parts.text_body, False),
    ):
        text = render_one(source, context, html, name)
        if isinstance(text, RenderError):
            return text
        output[name] = text
    subject = " ".join(output["subject"].split())  # a subject is one line
    return Rendered(subject, output["htmlBody"], output["textBody"])


def check_syntax(source: str, html: bool = False) -> str | None:
    """Why `source` is not a valid template (None: it is)."""
    try:
        (_HTML if html else _TEXT).parse(source)
    except TemplateError as exc:
        return f"not a valid template: {exc}"
    return None


def render_one(source: str, context: dict[str, Any], html: bool = False, part: str = "template") -> str | RenderError:
    """One template rendered, or why not (naming `part`)."""
    if not source:
        return ""
    try:
        text = _compiled(html, source).render(context)
    except TemplateError as exc:
        return RenderError(part, str(exc) or type(exc).__name__)
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        return RenderError(part, f"{type(exc).__name__}: {exc}")
    if len(text) > MAX_OUTPUT:
        return RenderError(part, f"renders to more than {MAX_OUTPUT} characters")
    return text
