"""Sphinx configuration of the tsinfluence documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html``. The example gallery is rendered
without running the examples (fast, deterministic builds); to execute them and embed their
output and figures, add ``-D plot_gallery=1`` (a few minutes on a CPU).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import tsinfluence  # noqa: E402

project = "tsinfluence"
author = "tsinfluence developers"
copyright = "tsinfluence developers, MIT License"
release = tsinfluence.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_generated",
    "faithfulness_notes.md",  # included by user_guide/faithfulness.md (may not exist yet)
    "**.ipynb_checkpoints",
]
suppress_warnings = [
    # Included Markdown files (benchmark results, notes) may skip heading levels or link
    # to files outside the documentation.
    "myst.header",
    "myst.xref_missing",
]

autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"tsinfluence {release}"
html_theme_options = {
    "github_url": "https://github.com/tsinfluence/tsinfluence",
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []

# ---------------------------------------------------------------------------- gallery
# Render the gallery without executing it unless asked: sphinx-build -D plot_gallery=1.
plot_gallery = os.environ.get("TSINFLUENCE_RUN_GALLERY", "0")
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example when executing, not only plot_*
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}

# ---------------------------------------------------------------------------- generated pages
#: The modules of the API reference: ``api/<module>.rst`` is generated for each, listing
#: every public name (``__all__``), so the reference cannot miss one.
API_MODULES = (
    "tsinfluence",
    "tsinfluence.nn",
    "tsinfluence.counterfactual",
    "tsinfluence.counterfactual.metrics",
    "tsinfluence.datasets",
    "tsinfluence.metrics",
    "tsinfluence.utils",
    "tsinfluence.plotting",
    "tsinfluence.persistence",
)
GENERATED = HERE / "_generated"


def _write(path: Path, text: str) -> None:
    """Write ``text`` only when it changed (keeps incremental builds incremental)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _optional_include(source: Path, target: str, missing: str) -> None:
    """Copy an optional Markdown file for inclusion, or a note saying it is missing."""
    text = source.read_text(encoding="utf-8") if source.exists() else missing
    _write(GENERATED / target, text)


#: What each API page says before its list of names.
API_INTROS = {
    "tsinfluence": (
        "The scikit-learn estimators, :class:`InfluenceClassifier` and "
        ":class:`InfluenceRegressor`. The package also re-exports the seed-compatible "
        "PyTorch classes of :mod:`tsinfluence.nn` (listed at the end)."
    ),
}


def _home(obj, found_in: str) -> str:
    """The API module that documents ``obj``: where it is defined, else where first listed."""
    module = getattr(obj, "__module__", None)
    if (isinstance(obj, type) or callable(obj)) and isinstance(module, str):
        prefixes = [m for m in API_MODULES if module == m or module.startswith(m + ".")]
        if prefixes:
            return max(prefixes, key=len)
    for name in API_MODULES:
        if any(getattr(importlib.import_module(name), n, None) is obj for n in _public(name)):
            return name
    return found_in


def _public(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [n for n in getattr(module, "__all__", []) if not n.startswith("_")]


def _api_page(module_name: str) -> str:
    """A page listing every name in ``module.__all__``; re-exports point to their home."""
    module = importlib.import_module(module_name)
    names, elsewhere = [], []
    for name in _public(module_name):
        home = _home(getattr(module, name), module_name)
        (names if home == module_name else elsewhere).append((name, home))
    names = sorted(
        (n for n, _ in names), key=lambda n: (not isinstance(getattr(module, n), type), n.lower())
    )
    title = f"``{module_name}``"
    lines = [title, "=" * len(title), ""]
    if module_name in API_INTROS:
        lines += [API_INTROS[module_name], ""]
    else:
        lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
    lines += [f".. currentmodule:: {module_name}", "", ".. autosummary::"]
    lines += ["   :toctree: generated/", "   :nosignatures:", ""]
    lines += [f"   {name}" for name in names]
    if elsewhere:
        lines += ["", "Also available here (documented in their home module):", ""]
        lines += [f"- ``{name}``: :mod:`{home}`" for name, home in sorted(elsewhere)]
    return "\n".join(lines) + "\n"


def _generate() -> None:
    GENERATED.mkdir(exist_ok=True)
    (HERE / "api").mkdir(exist_ok=True)
    for name in API_MODULES:
        _write(HERE / "api" / f"{name.replace('.', '_')}.rst", _api_page(name))
    _optional_include(
        ROOT / "benchmarks" / "RESULTS.md",
        "benchmark_results.md",
        "*No benchmark results yet: run the scripts in* ``benchmarks/`` *(see below).*\n",
    )
    _optional_include(
        HERE / "faithfulness_notes.md",
        "faithfulness_notes.md",
        "*The faithfulness notes have not been written yet.*\n",
    )


_generate()
