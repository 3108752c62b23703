"""cap.parsing is compiled with mypyc (setup.py): the build must be of the current source and
say exactly what the source says.

The source module is loaded beside the compiled one under another name and both validate the
same messages: the corpus (when ../shared is there) and this suite's own, including irregular
and hostile ones, with and without the lean parse and signature checks. With
TAMPERE_PURE_PYTHON=1 the package is built without the extension and only that is checked.
(cap.parsing reads single alerts; `cap.api.validate` hands feeds to `cap.feeds`, not compiled, so
a feed given to cap.parsing here is reported as not CAP by both builds alike.)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import cap.parsing
from tests.cap.test_fast_paths import SQUARE, message, with_description
from tests.conftest import SHARED

PURE = os.environ.get("TAMPERE_PURE_PYTHON") == "1"
COMPILED_PATH = Path(cap.parsing.__file__)
SOURCE_PATH = COMPILED_PATH.with_name("parsing.py")


def source_module() -> ModuleType:
    """cap/parsing.py executed as plain Python, as module cap._parsing_source."""
    spec = importlib.util.spec_from_file_location("cap._parsing_source", SOURCE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_package_is_built_as_configured() -> None:
    if PURE:
        assert COMPILED_PATH.suffix == ".py"
        return
    assert COMPILED_PATH.suffix == ".so", (
        "cap.parsing is not compiled: reinstall (dev/setup, or pip install -e .), "
        "or set TAMPERE_PURE_PYTHON=1 for a pure-Python build"
    )
    assert COMPILED_PATH.stat().st_mtime >= SOURCE_PATH.stat().st_mtime, (
        "cap/parsing.py changed after it was compiled: reinstall (dev/setup, or pip install -e .)"
    )


def own_messages() -> Iterator[tuple[str, bytes]]:
    """Messages of this suite: regular, irregular, with findings, hostile."""
    yield "square", message()
    yield "long-polygon", message(" ".join(f"61.{i:04d},23.7000" for i in range(3000)) + " 61.0000,23.7000")
    yield "bad-polygon", message("61.4,23.7 61.5")
    yield "mixed", with_description("<b>b</b> <i>c</i> d")
    yield "cdata", with_description("  <![CDATA[rising]]>")
    yield "utf16", with_description("a <b>b</b>", "UTF-16")
    yield "comment", message().replace(b"<event>Flood</event>", b"<event>Fl<!-- x -->ood</event>")
    yield (
        "order",
        message()
        .replace(b"<status>Actual</status>", b"")
        .replace(b"<scope>Public</scope>", b"<scope>Public</scope><status>Actual</status>"),
    )
    yield "attribute", message().replace(b"<event>", b'<event lang="en">')
    yield "unknown", message().replace(b"<event>", b"<colour>red</colour><event>")
    yield "doctype", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    yield "not-xml", b"\x00\xff<alert"
    yield "json", b'{"features": []}'
    yield "square-polygon", message(SQUARE.replace("23.70", "123.70"))


def corpus_messages() -> Iterator[tuple[str, bytes]]:
    shared = SHARED / "corpus" / "cap"
    for path in sorted(shared.glob("*/*")):
        if path.is_file() and path.parent.name in ("valid", "invalid", "feeds"):
            yield path.name, path.read_bytes()


@pytest.mark.skipif(PURE, reason="built without the compiled module (TAMPERE_PURE_PYTHON=1)")
def test_the_compiled_module_says_what_its_source_says() -> None:
    source = source_module()
    checked = 0
    for name, data in [*own_messages(), *corpus_messages()]:
        for kwargs in ({"verify_signature": False}, {}, {"profiles": ("google", "cap-au")}):
            expected = source.validate(data, **kwargs)
            if b'"date:now' in data:  # NWS test feeds: dates relative to the clock, read twice
                continue
            assert cap.parsing.validate(data, **kwargs) == expected, (name, kwargs)
            checked += 1
        try:
            expected_alert = source.parse(data)
        except cap.CapError as exc:
            with pytest.raises(cap.CapError) as raised:
                cap.parsing.parse(data)
            assert (raised.value.rule, raised.value.path) == (exc.rule, exc.path), name
        else:
            assert cap.parsing.parse(data) == expected_alert, name
    assert checked >= 3 * 14
