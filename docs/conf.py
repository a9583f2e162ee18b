"""Sphinx configuration of the API reference: every module of ``beaker``, from its docstrings.

Built with warnings as errors (``sphinx-build -W``) by ``.ci/run`` and ``tests/test_docs.py``.
Modules are found by ``autosummary`` walking the package, so a new module needs no edit here;
optional dependencies that are not installed are mocked, so the build needs only the ``docs``
extra.
"""

from __future__ import annotations

import importlib.util

import beaker

project = "beaker"
version = release = beaker.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"]
exclude_patterns = ["_build"]

autosummary_generate = True
autosummary_imported_members = False
# Each object is documented once, on the page of the module that defines it: a package that
# re-exports (``beaker.stores``, Beaker's import paths) lists its modules, not their members.
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# The optional dependencies of the extras: mocked when absent, so their modules still import.
_OPTIONAL = [
    "redis",
    "pymemcache",
    "sqlalchemy",
    "psycopg",
    "tqdm",
    "flask",
    "starlette",
    "webob",
    "webtest",
    "pyramid",
]
autodoc_mock_imports = [name for name in _OPTIONAL if importlib.util.find_spec(name) is None]
# An "Attributes:" section describes the attrs fields autodoc lists anyway: as :ivar: fields.
napoleon_use_ivar = True
# Beaker's API and the native one share short names (``Session``, ``LockError``), so a short
# type name in a signature can have two targets; Sphinx picks one, which is right for either.
suppress_warnings = ["ref.python"]
