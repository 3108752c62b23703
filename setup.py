"""Build hook: cap.parsing, the validator's hot path, is compiled to a C extension with mypyc.

Everything else is configured in pyproject.toml. The compiled module behaves as the Python source
(the same tests run against either) and runs a message's reading about a tenth faster. Set
TAMPERE_PURE_PYTHON=1 to build without it, e.g. while editing cap/parsing.py in an editable
install: a compiled module found next to its source is imported in its place.
"""

import os

from setuptools import setup

ext_modules = []
if os.environ.get("TAMPERE_PURE_PYTHON") != "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(["cap/parsing.py"], opt_level="3")

setup(ext_modules=ext_modules)
