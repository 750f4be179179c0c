"""The console's Jinja2 environment: every value escaped, templates from the package."""

from importlib.resources import files
from typing import Any, Final

from jinja2 import Environment, PackageLoader, select_autoescape

TEMPLATES: Final = Environment(
    loader=PackageLoader("serving.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(name: str, **context: Any) -> str:
    return TEMPLATES.get_template(name).render(**context)


def report_style() -> str:
    """The stylesheet of printable reports, for pages saved as one self-contained file."""
    return files("serving.console").joinpath("static", "report.css").read_text(encoding="utf-8")
