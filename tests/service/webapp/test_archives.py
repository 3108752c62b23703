"""PMTiles basemaps: `tampere basemap import|list|remove` checks an archive before copying it
into the data directory, and the service serves it in byte ranges (RFC 9110 §14) at a stable path,
tells the web app what to draw (`GET /api/v1/basemap`), and names a configured style's origin in
the page's Content-Security-Policy only when one is set."""

from __future__ import annotations

import gzip
import json
import re
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pmtiles.reader import MemorySource, Reader

from geo.gazetteer import natural_earth_version
from service.webapp.archives import ArchiveError, import_archive
from tests.basemaps import raster_archive, vector_archive
from tests.conftest import migrated, run_tampere, running_service
from tests.service.webapp.test_routes import INDEX


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A store made as a user makes one (the basemap commands need it, like every store command)."""
    return migrated(tmp_path / "var")


def basemap(*args: str, data_dir: Path) -> tuple[int, str, str]:
    done = run_tampere("basemap", *args, data_dir=data_dir, database_url="")
    return done.returncode, done.stdout, done.stderr


# --- the command line ----------------------------------------------------------------------------


def test_import_list_and_remove_a_vector_and_a_raster_basemap(tmp_path: Path, data_dir: Path) -> None:
    vector = vector_archive(tmp_path / "World-Roads.pmtiles")
    raster = raster_archive(tmp_path / "imagery.pmtiles")

    code, out, err = basemap("import", str(vector), "--name", "world", data_dir=data_dir)
    assert code == 0, err
    imported = json.loads(out)
    assert imported["name"] == "world" and imported["kind"] == "vector" and imported["tile_type"] == "mvt"
    assert [layer["id"] for layer in imported["vector_layers"]] == ["water", "landuse"]
    assert imported["url"] == "/api/v1/basemap/world.pmtiles"
    assert (data_dir / "basemaps" / "world.pmtiles").read_bytes() == vector.read_bytes()

    code, out, err = basemap("import", str(raster), data_dir=data_dir)
    assert code == 0, err
    assert json.loads(out)["kind"] == "raster"

    code, out, _ = basemap("list", data_dir=data_dir)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(a["name"], a["kind"], a["maxzoom"]) for a in listed] == [
        ("world", "vector", 2),
        ("imagery", "raster", 1),
    ]

    code, _, err = basemap("remove", "world", data_dir=data_dir)
    assert code == 0 and "world removed" in err
    assert not (data_dir / "basemaps" / "world.pmtiles").exists()
    code, _, err = basemap("remove", "world", data_dir=data_dir)
    assert code == 1 and "no basemap 'world'" in err and "tampere basemap list" in err
    _, out, _ = basemap("list", data_dir=data_dir)
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["imagery"]

    verified = run_tampere("audit", "verify", data_dir=data_dir, database_url="")
    assert verified.returncode == 0 and "intact: 3 links" in verified.stdout


def header_of(path: Path) -> bytearray:
    return bytearray(path.read_bytes())


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (lambda b: b.__setitem__(slice(0, 7), b"MBTiles"), "not a PMTiles archive"),
        (lambda b: b.__setitem__(7, 2), "version 2, not 3"),
        (lambda b: b.__setitem__(99, 6), "type MLT"),  # MapLibre Tiles: not drawn by the app
        (lambda b: b.__setitem__(99, 0), "type UNKNOWN"),
        (lambda b: b.__setitem__(98, 3), "compressed with BROTLI"),
        (
            lambda b: b.__setitem__(slice(102, 106), struct.pack("<i", 1_900_000_000)),
            "not a box on the Earth",
        ),
        (
            lambda b: b.__setitem__(slice(110, 114), struct.pack("<i", -1_800_000_000)),
            "not a box on the Earth",
        ),
        (lambda b: b.__setitem__(100, 9), "min zoom 9 exceeds max zoom 2"),
        (lambda b: b.__setitem__(slice(64, 72), struct.pack("<Q", 10**9)), "tile data ends at byte"),
        (lambda b: b.__setitem__(slice(8, 16), struct.pack("<Q", 20_000)), "root directory"),
        (lambda b: b.__setitem__(97, 4), "directories are compressed with ZSTD"),
        (lambda b: b.__setitem__(99, 77), "header cannot be read"),
        (lambda b: b.__delitem__(slice(100, None)), "starts with a 127-byte header"),
    ],
)
def test_import_refuses_what_is_not_a_drawable_pmtiles_v3_archive_saying_why(
    tmp_path: Path, spoil: object, said: str
) -> None:
    data = header_of(vector_archive(tmp_path / "good.pmtiles"))
    spoil(data)  # type: ignore[operator]
    bad = tmp_path / "bad.pmtiles"
    bad.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"^bad\.pmtiles") as refused:
        import_archive(bad, tmp_path / "var")
    assert said in str(refused.value)
    assert not (tmp_path / "var" / "basemaps" / "bad.pmtiles").exists()


def test_the_command_says_why_it_refuses_and_exits_1(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.pmtiles"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(200))
    code, out, err = basemap("import", str(bad), data_dir=data_dir)
    assert code == 1 and out == ""
    assert "tampere basemap import: refused: bad.pmtiles is not a PMTiles archive" in err
    assert "pmtiles convert" in err  # what to do about it


def test_import_refuses_a_vector_archive_whose_layers_are_not_named(tmp_path: Path) -> None:
    unnamed = vector_archive(tmp_path / "unnamed.pmtiles", vector_layers=False)
    with pytest.raises(ArchiveError, match=r"names no vector layers \(`vector_layers`"):
        import_archive(unnamed, tmp_path / "var")


def test_import_refuses_metadata_that_is_not_json(tmp_path: Path) -> None:
    path = vector_archive(tmp_path / "m.pmtiles")
    data = bytearray(path.read_bytes())
    offset, length = struct.unpack_from("<QQ", data, 24)
    garbage = gzip.compress(b"{not json", mtime=0)
    assert len(garbage) <= length
    data[offset : offset + len(garbage)] = garbage
    data[32:40] = struct.pack("<Q", len(garbage))
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="its metadata is not JSON"):
        import_archive(path, tmp_path / "var")


def test_metadata_that_expands_past_the_bound_is_refused_without_expanding_it(tmp_path: Path) -> None:
    path = vector_archive(tmp_path / "bomb.pmtiles")
    data = bytearray(path.read_bytes())
    offset = struct.unpack_from("<Q", data, 24)[0]
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), mtime=0)  # 64 MiB of spaces in ~64 kB
    rest = data[offset + struct.unpack_from("<Q", data, 32)[0] :]
    shift = len(bomb) - struct.unpack_from("<Q", data, 32)[0]
    data[32:40] = struct.pack("<Q", len(bomb))
    for at in (40, 56):  # the leaf directories and the tile data move along
        data[at : at + 8] = struct.pack("<Q", struct.unpack_from("<Q", data, at)[0] + shift)
    path.write_bytes(bytes(data[:offset]) + bomb + bytes(rest))
    with pytest.raises(ArchiveError, match="expands past"):
        import_archive(path, tmp_path / "var")


def test_import_refuses_names_that_cannot_be_a_path_and_files_that_are_missing(
    tmp_path: Path, data_dir: Path
) -> None:
    archive = vector_archive(tmp_path / "world map.pmtiles")
    code, _, err = basemap("import", str(archive), data_dir=data_dir)
    assert code == 1 and "'world map' cannot name a basemap" in err and "--name" in err
    for name in ("../etc", "World", "a/b", ""):
        with pytest.raises(ArchiveError, match="cannot name a basemap"):
            import_archive(archive, data_dir, name=name)
    code, _, err = basemap("import", str(tmp_path / "absent.pmtiles"), data_dir=data_dir)
    assert code == 2 and "no such file" in err
    assert not (data_dir / "basemaps").exists() or list((data_dir / "basemaps").iterdir()) == []


def test_a_second_import_of_a_name_replaces_the_first(tmp_path: Path, data_dir: Path) -> None:
    basemap(
        "import", str(vector_archive(tmp_path / "a.pmtiles", max_zoom=1)), "--name", "base", data_dir=data_dir
    )
    code, _, err = basemap(
        "import", str(vector_archive(tmp_path / "b.pmtiles", max_zoom=3)), "--name", "base", data_dir=data_dir
    )
    assert code == 0, err
    _, out, _ = basemap("list", data_dir=data_dir)
    assert [(a["name"], a["maxzoom"]) for a in map(json.loads, out.splitlines())] == [("base", 3)]
    assert [p.name for p in (data_dir / "basemaps").iterdir()] == ["base.pmtiles"]  # no staging left


# --- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_bytes(INDEX)
    return built


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one vector archive imported by the command line as `world` (made once)."""
    data_dir = migrated(tmp_path_factory.mktemp("basemap") / "var")
    archive = vector_archive(data_dir.parent / "world.pmtiles")
    code, _, err = basemap("import", str(archive), data_dir=data_dir)
    assert code == 0, err
    return data_dir


@pytest.fixture
async def served(imported: Path, web_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, bytes]]:
    """The service with one vector archive imported as `world`; the client and the file's bytes."""
    async with running_service(
        f"sqlite+aiosqlite:///{imported / 'tampere.db'}", imported, web_dir=web_dir
    ) as service:
        yield service.client, (imported / "basemaps" / "world.pmtiles").read_bytes()


URL = "/api/v1/basemap/world.pmtiles"


async def test_the_archive_is_whole_without_range_and_says_it_accepts_ranges(
    served: tuple[httpx.AsyncClient, bytes],
) -> None:
    client, data = served
    response = await client.get(URL, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.content == data
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "application/vnd.pmtiles"
    assert "content-encoding" not in response.headers  # never gzipped: it is read in ranges
    assert response.headers["etag"].startswith('"') and response.headers["cache-control"] == "no-cache"
    head = await client.head(URL)
    assert (
        head.status_code == 200 and head.headers["content-length"] == str(len(data)) and head.content == b""
    )


async def test_a_range_is_answered_206_with_content_range_and_the_bytes(
    served: tuple[httpx.AsyncClient, bytes],
) -> None:
    client, data = served
    size = len(data)
    for header, first, last in [
        ("bytes=0-126", 0, 126),
        ("bytes=100-", 100, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=5-999999", 5, size - 1),  # past the end: cut to it
        ("BYTES = 3-3", 3, 3),  # the unit is case-insensitive; whitespace around it tolerated
        ("bytes=999999-, 0-9", 0, 9),  # an unsatisfiable range beside a satisfiable one
    ]:
        response = await client.get(URL, headers={"Range": header, "Accept-Encoding": "gzip"})
        assert response.status_code == 206, header
        assert response.headers["content-range"] == f"bytes {first}-{last}/{size}", header
        assert response.content == data[first : last + 1], header
        assert response.headers["content-length"] == str(last - first + 1)
        assert "content-encoding" not in response.headers


async def test_several_ranges_come_as_multipart_byteranges(served: tuple[httpx.AsyncClient, bytes]) -> None:
    client, data = served
    response = await client.get(URL, headers={"Range": "bytes=0-6,200-209"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert data[0:7] in response.content and data[200:210] in response.content


async def test_a_pmtiles_reader_reads_tiles_through_range_requests(
    served: tuple[httpx.AsyncClient, bytes],
) -> None:
    client, data = served

    asked: list[str] = []

    def over_http(offset: int, length: int) -> bytes:
        asked.append(f"bytes={offset}-{offset + length - 1}")
        return data[offset : offset + length]

    # The reader's ranges, asked of the service, give the bytes the reader needs.
    reader = Reader(over_http)
    assert reader.get(2, 1, 1) == Reader(MemorySource(data)).get(2, 1, 1)
    for header in asked:
        response = await client.get(URL, headers={"Range": header})
        first, last = (int(v) for v in header.removeprefix("bytes=").split("-"))
        assert response.status_code == 206 and response.content == data[first : last + 1]


@pytest.mark.parametrize(
    "header",
    ["bytes=999999-", "bytes=999999-1000000", "bytes=-0", "bytes=999999-, 1000000-"],
)
async def test_a_range_beyond_the_file_is_416_with_its_length(
    served: tuple[httpx.AsyncClient, bytes], header: str
) -> None:
    client, data = served
    response = await client.get(URL, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["rule"] == "request.range.not-satisfiable"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=5-3",  # last before first: invalid (RFC 9110 §14.1.1)
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=--5",
        "bytes=",
        "bytes=,",
        "bytes",
        "items=0-5",
        "bytes=0-5;x",
        "bytes=+1-5",
        "bytes=" + "0-1," * 40,  # more ranges than a reader asks for
        "bytes=" + "9" * 40 + "-",
        "bytes=0-" + "9" * 2000,
        "\u00e9t\u00e9=0-5",
    ],
)
async def test_a_malformed_range_is_ignored_and_the_whole_file_sent(
    served: tuple[httpx.AsyncClient, bytes], header: str
) -> None:
    client, data = served
    response = await client.get(URL, headers={"Range": header.encode("utf-8")})
    assert response.status_code == 200, header
    assert response.content == data


async def test_if_range_and_if_none_match_follow_the_files_etag(
    served: tuple[httpx.AsyncClient, bytes],
) -> None:
    client, data = served
    whole = await client.get(URL)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    held = await client.get(URL, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert held.status_code == 206 and held.content == data[:10]
    dated = await client.get(URL, headers={"Range": "bytes=0-9", "If-Range": modified})
    assert dated.status_code == 206
    for changed in ('"another"', f"W/{etag}", "Tue, 01 Jan 2002 00:00:00 GMT"):
        stale = await client.get(URL, headers={"Range": "bytes=0-9", "If-Range": changed})
        assert stale.status_code == 200 and stale.content == data, changed
    # If-Range is looked at first: a changed file is sent whole, even for a range past its end.
    assert (await client.get(URL, headers={"Range": "bytes=999999-", "If-Range": '"x"'})).status_code == 200
    unchanged = await client.get(URL, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["etag"] == etag and unchanged.content == b""


async def test_an_unknown_archive_is_404_in_the_problem_shape(
    served: tuple[httpx.AsyncClient, bytes],
) -> None:
    client, _ = served
    for name in ("nothing", "..%2Fbasemaps%2Fworld", "WORLD"):
        response = await client.get(f"/api/v1/basemap/{name}.pmtiles")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_page_is_told_to_draw_the_imported_archive(served: tuple[httpx.AsyncClient, bytes]) -> None:
    client, _ = served
    told = (await client.get("/api/v1/basemap")).json()
    assert told["style"] is None
    # The built-in boundaries' version, read from the installed package's own VERSION file.
    assert told["countries_source"]["name"] == "Natural Earth"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", told["countries_source"]["version"] or "")
    assert [(a["name"], a["url"], a["kind"]) for a in told["archives"]] == [("world", URL, "vector")]
    assert [layer["id"] for layer in told["archives"][0]["vector_layers"]] == ["water", "landuse"]
    page = await client.get("/")
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self';" in policy and "http" not in policy


async def test_a_style_url_is_told_to_the_page_and_its_origin_alone_allowed(
    tmp_path: Path, web_dir: Path
) -> None:
    style = "https://tiles.example.org:8443/styles/liberty.json"
    async with running_service(
        f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var2", web_dir=web_dir, map_style_url=style
    ) as service:
        told = (await service.client.get("/api/v1/basemap")).json()
        assert told == {
            "style": style,
            "archives": [],
            "countries": "/api/v1/basemap/countries",
            "countries_source": {"name": "Natural Earth", "version": natural_earth_version()},
        }
        policy = (await service.client.get("/")).headers["content-security-policy"]
        assert "connect-src 'self' https://tiles.example.org:8443;" in policy
        assert "img-src 'self' data: blob: https://tiles.example.org:8443;" in policy
        assert policy.count("example.org") == 2


def test_a_style_url_that_is_not_absolute_http_is_refused_at_start() -> None:
    from pydantic import ValidationError

    from service.settings import Settings

    for bad in ("styles/liberty.json", "javascript:alert(1)", "file:///etc/passwd"):
        with pytest.raises(ValidationError, match="map_style_url"):
            Settings(map_style_url=bad)
