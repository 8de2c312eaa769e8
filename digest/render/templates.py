"""The three templates: loaded once, digest.mjml compiled once, then filled per email.

Three templates make one message (healthchecks does the same): ``subject.txt``,
``digest.txt`` (the text/plain part) and ``digest.mjml`` (the text/html part, MJML with
Jinja inside). The MJML is compiled to HTML **once**, with its Jinja tags left in place, and
the HTML is then filled by Jinja (autoescaped) for every email. Compiling the MJML per email
gives the same HTML but costs ~2.7x as much (384 vs 1,029 µs per email, measured by
``benchmarks/bench_render.py``).

Owns finding the templates (the admin's ``email.templates`` folder first, then the built-in
one), compiling, and filling them; knows nothing of what the values mean. May import errors
and resources.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from ..errors import RenderError
from ..resources import templates_dir

TEMPLATE_NAMES = ("digest.mjml", "digest.txt", "subject.txt")

_JINJA_TAG = re.compile(r"\{%-?\s*(.*?)\s*-?%\}|\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


TEXT_WIDTH = 76
# A word that looks like a link: kept whole (a cut URL stops working), on a line of its own.
_URL_WORD = re.compile(r"^\W*(?:https?://|www\.)", re.IGNORECASE)


class _Wrapper(textwrap.TextWrapper):
    """Breaks a word longer than the line, unless it is a URL: a URL stands whole on a
    line of its own, however long."""

    def _handle_long_word(
        self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
    ) -> None:
        if _URL_WORD.match(reversed_chunks[-1]):
            if not cur_line:  # else the line ends here and the URL starts the next one
                cur_line.append(reversed_chunks.pop())
            return
        super()._handle_long_word(reversed_chunks, cur_line, cur_len, width)


@functools.lru_cache(maxsize=8192)  # a day's titles and abstracts recur in many digests
def wrap_text(text: str, indent: int = 0, width: int = TEXT_WIDTH) -> str:
    """``text`` wrapped for the plain-text part: lines of at most ``width`` columns.

    Every line but the first starts with ``indent`` spaces (the template writes the first
    line's indent itself). A word longer than the line is broken across lines, except a
    URL (``http://``, ``https://``, ``www.``), which stands whole on a line of its own
    (RFC 3676 asks for lines under 78 characters; a URL may not be cut).
    """
    if len(text) + indent <= width and "\n" not in text:
        return text  # fits on its first line: the usual case for names and reasons
    pad = " " * indent
    wrapper = _Wrapper(
        width=width,
        initial_indent=pad,
        subsequent_indent=pad,
        break_long_words=True,
        break_on_hyphens=False,
    )
    lines = wrapper.wrap(text)
    return "\n".join(lines)[indent:]


def compile_mjml(source: str, *, name: str = "digest.mjml") -> str:
    """Compile Jinja-templated MJML to Jinja-templated HTML, checking no tag was lost.

    MJML passes text through, so ``{{ }}`` and ``{% %}`` survive in text and in ``<mj-raw>``;
    a block tag placed where MJML drops or copies content would silently break the loops,
    so that is an error naming the tag.
    """
    source = _JINJA_COMMENT.sub("", source)  # MJML rejects text before <mjml>
    try:
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"{name}: not valid MJML ({exc}); fix the template") from exc
    before = [m.group(1) for m in _JINJA_TAG.finditer(source) if m.group(1) is not None]
    after = [m.group(1) for m in _JINJA_TAG.finditer(html) if m.group(1) is not None]
    if before != after:
        lost = next(
            (tag for i, tag in enumerate(before) if i >= len(after) or after[i] != tag),
            after[len(before)] if len(after) > len(before) else "",
        )
        raise RenderError(
            f"{name}: MJML dropped, moved or repeated the Jinja tag {{% {lost} %}}; put "
            "block tags that sit between MJML components inside <mj-raw>"
        )
    wanted = {m.group(2) for m in _JINJA_TAG.finditer(source) if m.group(2) is not None}
    kept = {m.group(2) for m in _JINJA_TAG.finditer(html) if m.group(2) is not None}
    if wanted != kept:
        lost = sorted(wanted ^ kept)[0]
        raise RenderError(
            f"{name}: MJML changed or dropped {{{{ {lost} }}}}; use Jinja expressions only "
            "in text and href attributes"
        )
    return break_lines(html)


def break_lines(html: str) -> str:
    """``html`` with line breaks where HTML ignores them: between table rows, after <head>.

    MJML writes the body as one line; SMTP allows at most 998 bytes per line, and short
    lines let the body go out as 8bit text instead of slower, larger quoted-printable.
    """
    return (
        html.replace("</tr>", "</tr>\n")
        .replace("<tbody>", "<tbody>\n")
        .replace("</head>", "</head>\n")
    )


class _TemplateSet:
    """The three templates, each from the admin's folder if it has it, else built in."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = folders
        loader = jinja2.FileSystemLoader([str(f) for f in folders])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,  # a typo in a template fails loudly
            "auto_reload": False,
        }
        self.html_env = jinja2.Environment(autoescape=True, **common)
        self.text_env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, **common)
        self.text_env.filters["wrap"] = wrap_text

    def source(self, name: str, env: jinja2.Environment) -> tuple[str, str]:
        try:
            source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound as exc:
            where = " or ".join(str(f) for f in self.folders)
            raise RenderError(
                f"template {name} not found in {where}; restore the file, or point "
                "email.templates at a folder that has it"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderError(f"template {name}: cannot read it ({exc})") from exc
        try:
            env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{filename}:{exc.lineno}: {exc.message}; fix the template") from exc
        return source, filename or name

    def text(self, name: str) -> jinja2.Template:
        return self.text_env.from_string(self.source(name, self.text_env)[0])

    def mjml(self, name: str) -> tuple[str, str]:
        """The raw MJML source and its path."""
        return self.source(name, self.html_env)


def _fill(template: jinja2.Template, name: str, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except (jinja2.TemplateError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise RenderError(f"template {name} failed to render: {exc}; fix the template") from exc


class Templates:
    """``subject.txt``, ``digest.txt`` and ``digest.mjml``, ready to fill.

    ``template_dir`` (config ``email.templates``) may hold any of the template files, the
    others come from the built-in folder. A missing or broken template is a
    :class:`RenderError` naming the file, raised here rather than halfway through the run.
    ``compile_mjml_once=False`` fills the MJML and compiles it per email instead: for
    measurement only (``benchmarks/bench_render.py``).
    """

    def __init__(self, template_dir: Path | None = None, *, compile_mjml_once: bool = True) -> None:
        self._compile_once = compile_mjml_once
        folders: list[Path] = []
        if template_dir is not None:
            if not template_dir.is_dir():
                raise RenderError(
                    f"email.templates: {template_dir} is not a folder; create it, or leave "
                    "email.templates empty to use the built-in templates"
                )
            folders.append(template_dir)
        folders.append(templates_dir())
        templates = _TemplateSet(folders)
        html_env = templates.html_env
        mjml_source, mjml_path = templates.mjml("digest.mjml")
        if compile_mjml_once:
            self._html = html_env.from_string(compile_mjml(mjml_source, name=mjml_path))
        else:
            self._html = html_env.from_string(mjml_source)
        self._text = templates.text("digest.txt")
        self._subject = templates.text("subject.txt")

    def subject(self, context: dict[str, Any]) -> str:
        """``subject.txt`` filled in (not yet cleaned to one line)."""
        return _fill(self._subject, "subject.txt", context)

    def text(self, context: dict[str, Any]) -> str:
        """The plain-text body: ``digest.txt`` filled in."""
        return _fill(self._text, "digest.txt", context)

    def html(self, context: dict[str, Any]) -> str:
        """The HTML body: the compiled ``digest.mjml`` filled in (autoescaped)."""
        html = _fill(self._html, "digest.mjml", context)
        if self._compile_once:
            return html
        try:
            return break_lines(mjml2html(html, disable_comments=True, fonts={}))
        except ValueError as exc:
            raise RenderError(f"digest.mjml: not valid MJML once filled in ({exc})") from exc
