"""Install shim: the metadata lives in setup.cfg.

On Python >= 3.12 the top-level ``sitecustomize`` module is installed too: no numpy for
those Pythons still has the aliases mxnet 1.9.1 uses, so the hook restores them when
mxnet is imported (see sitecustomize.py). On older Pythons numpy is pinned to a release
that has them, and nothing runs at start-up.
"""
import sys

from setuptools import setup

setup(py_modules=['sitecustomize'] if sys.version_info >= (3, 12) else [])
