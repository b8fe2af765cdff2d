"""
Sphinx configuration: MyST pages, furo, API reference from docstrings.

Build with ``sphinx-build -W -n -b html docs docs/_build/html`` (warnings
are errors, every cross-reference must resolve).
"""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from pathlib import Path


sys.path.insert(0, str(Path(__file__).parents[1] / "src"))

project = "ecomsync"
author = "ecomsync developers"
copyright = "2026, ecomsync developers"
release = _version("ecomsync")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Single backticks in docstrings are cross-references.
default_role = "py:obj"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections become attribute entries that can be linked.
napoleon_use_ivar = False

html_theme = "furo"
html_title = f"ecomsync {release}"

nitpicky = True
# The build must work offline, so there is no intersphinx: types from the
# standard library and third-party packages shown in signatures cannot
# resolve and are not checked.
_STDLIB = (
    "collections",
    "collections.abc",
    "contextlib",
    "datetime",
    "decimal",
    "enum",
    "pathlib",
    "types",
    "typing",
)
_BARE = ("datetime", "timedelta", "Decimal", "Path", "Any", "TextIO")
_THIRD_PARTY = ("anyio", "attrs", "httpx", "pytest", "starlette", "uvicorn")
nitpick_ignore_regex = [
    ("py:class", rf"({'|'.join(_STDLIB)})\.\w+"),
    ("py:class", rf"({'|'.join(_BARE)})"),
    ("py:class", rf"({'|'.join(_THIRD_PARTY)})(\.\w+)+"),
    ("py:obj", rf"({'|'.join(_THIRD_PARTY)})(\.\w+)+"),
    ("py:class", r"(Memory)?ObjectReceiveStream"),
    ("py:class", r"AsyncConnection"),  # psycopg, an optional extra
    # opentelemetry-api, the otel extra.
    ("py:class", r"(TracerProvider|MeterProvider|opentelemetry(\.\w+)+)"),
    ("py:class", r"T"),  # a type variable
    # Type variables of generic helpers.
    ("py:class", r"ecomsync\.[\w.]*\.[A-Z]"),
]


def _resolve_short_names(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """
    Docstrings name things as the code does (`Synchronizer`, `Progress`,
    `ErpSession.read_media`): resolve such a name to the one documented
    public object whose full name ends with it.
    """
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    objects = env.get_domain("py").objects
    found = [
        name
        for name, entry in objects.items()
        if (name == target or name.endswith("." + target))
        and "._" not in name
        and not entry.aliased
    ]
    if len(found) != 1:
        return None
    entry = objects[found[0]]
    return make_refnode(
        app.builder,
        node["refdoc"],
        entry.docname,
        entry.node_id,
        contnode,
        found[0],
    )


def _public_bases(app, name, obj, options, bases):  # type: ignore[no-untyped-def]
    """
    Private mixins (``ecomsync._closing.AsyncResource``) are no base a
    reader needs to see.
    """
    bases[:] = [b for b in bases if not b.__module__.startswith("ecomsync._")]


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_short_names)
    app.connect("autodoc-process-bases", _public_bases)
