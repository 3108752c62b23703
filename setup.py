"""Build hook: cap.parsing, the validator's hot path, is compiled to a C extension with mypyc.

Everything else is configured in pyproject.toml (mypyc's type check: [tool.mypy]). The compiled
module behaves as the Python source (tests/test_cap_compiled.py runs both); bench/cap_validate.py
times it 10-20% faster at the median message. The build needs a C compiler and Python's headers
(dev/setup installs them; the Dockerfile's build stage has them) and mypy (pyproject.toml's
build requirements). Set TAMPERE_PURE_PYTHON=1 to build without it, e.g. while editing
cap/parsing.py in an editable install.
"""

import os
from pathlib import Path

from setuptools import setup

ext_modules = []
if os.environ.get("TAMPERE_PURE_PYTHON") == "1":
    # An editable install builds the extension next to its source, where it is imported in the
    # source's place: a build without it takes away what an earlier build left there.
    for built in (Path(__file__).resolve().parent / "cap").glob("parsing*.so"):
        built.unlink()
else:
    try:
        from mypyc.build import mypycify
    except ImportError as exc:  # a build without isolation, in an environment without mypy
        raise SystemExit(
            "building tampere compiles cap/parsing.py with mypyc: install mypy (see "
            "pyproject.toml [build-system]) or set TAMPERE_PURE_PYTHON=1"
        ) from exc

    ext_modules = mypycify(["cap/parsing.py"], opt_level="3")

setup(ext_modules=ext_modules)
