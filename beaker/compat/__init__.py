"""Beaker's documented API (``beaker.cache``, ``beaker.util``, ``beaker.middleware``,
``beaker.session``, ``beaker.exceptions``) rebuilt from this package's components.

The modules of this package translate Beaker's options and calls into composed parts
(:func:`beaker.caching.compose`, the stores, locks and sessions); they add no behaviour of
their own beyond Beaker's documented quirks. Import the submodules directly; this package
module imports nothing so that ``import beaker.compat.config`` stays light.
"""
