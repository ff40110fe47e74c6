"""Sphinx configuration of the SessionKeeper documentation.

Why Sphinx, as the Pallets projects (Flask, Werkzeug, Click) use it:

- ``sphinx.ext.autodoc`` renders the API reference from the docstrings the code
  already carries, so the reference cannot drift from the code;
- ``sphinx-click`` renders the command-line reference from the Click objects
  themselves (``sessionkeeper`` and ``flask sessions``);
- a small local extension (``_ext/sessionkeeper_docs.py``) renders the
  configuration reference from :data:`sessionkeeper.config.DEFAULTS` and
  :data:`~sessionkeeper.config.DOCS`, and the key-value service's HTTP API from
  its OpenAPI document, at build time;
- ``sphinx.ext.doctest`` runs the quick start's code, so the samples stay real;
- ``myst-parser`` includes the Markdown files kept beside the code (benchmark
  and soak results, the changelog) without copying them;
- the build is offline: no intersphinx inventory is fetched, and no theme or
  asset is downloaded.

Build with ``make docs`` (``docs/_build/html``); ``make test`` builds it with
warnings as errors and runs the doctests.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

project = "SessionKeeper"
author = "the SessionKeeper authors"
copyright = "2026, the SessionKeeper authors"
release = metadata.version("sessionkeeper")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "myst_parser",
    "sessionkeeper_docs",
]

source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
nitpicky = False
default_role = "code"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autodoc_default_options = {"show-inheritance": True}
autodoc_preserve_defaults = True

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

doctest_test_doctest_blocks = ""

html_theme = "alabaster"
html_title = f"SessionKeeper {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Sessions and cookies for Flask that lose no updates.",
    "fixed_sidebar": True,
    "page_width": "1160px",
    "show_powered_by": False,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
