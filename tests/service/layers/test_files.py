"""The layer store on disk: `tampere layer import` of every kind, listing and loading."""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import h3
import pytest
import shapely
from shapely.geometry import Polygon, box

from geo.layers import LayerFormatError
from service.layers.files import import_layer, list_layers, load_connectivity
from tests.geo.test_connectivity import CABLES, OOKLA, OPENCELLID, _h3_grid, csv_rows, shared_file


def test_layer_store_imports_lists_and_loads_every_kind(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    ocid = tmp_path / "cells.csv.gz"
    ocid.write_bytes(gzip.compress(shared_file(OPENCELLID).read_bytes()))
    summary = import_layer("opencellid", ocid, data_dir)
    assert summary["rows"] == 45_745 and summary["skipped"] == 0
    diff = tmp_path / "diff.csv"
    diff.write_bytes(csv_rows("NR,262,1,1,99999999999,0,10.0,50.0,100,1,1,1,1700000000,0"))
    assert import_layer("opencellid", diff, data_dir)["rows"] == 45_746  # merged, not replaced

    for quarter in (1, 2):
        import_layer("ookla", OOKLA / f"guam_mobile_tiles_2023Q{quarter}.geojson", data_dir)
    import_layer("cables", CABLES, data_dir)

    cells, people = _h3_grid()
    kontur = gpd.GeoDataFrame(
        {"h3": cells, "population": people},
        geometry=[Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells],
        crs=4326,
    ).to_crs(3857)
    gpkg = tmp_path / "kontur_population_GU_20231101.gpkg"
    kontur.to_file(gpkg, driver="GPKG")
    packed = tmp_path / "kontur.gpkg.gz"
    packed.write_bytes(gzip.compress(gpkg.read_bytes()))
    assert import_layer("population", packed, data_dir)["population"] == people.sum()

    listed = {(m["kind"], m["table"]): m["rows"] for m in list_layers(data_dir)}
    assert listed == {
        ("opencellid", "cells"): 45_746,
        ("ookla", "2023Q1"): 300,
        ("ookla", "2023Q2"): 392,
        ("cables", "landings"): 1414,
        ("population", "population"): 127,
    }
    layer = load_connectivity(data_dir)
    assert len(layer.cells) == 45_746 and layer.periods == ["2023Q1", "2023Q2"]
    assert layer.population is not None and layer.landings is not None
    germany = layer.cells.index.select(box(5.8, 47.2, 15.1, 55.1))
    assert germany.count() == int(
        shapely.contains_xy(box(5.8, 47.2, 15.1, 55.1), layer.cells["lon"], layer.cells["lat"]).sum()
    )


def test_layer_store_rejects_what_it_cannot_import(tmp_path: Path) -> None:
    ookla = tmp_path / "tiles.geojson"
    ookla.write_bytes(b'{"type": "FeatureCollection", "features": []}')
    cases = [
        ("satellites", ookla, "layer.kind"),
        ("opencellid", tmp_path / "missing.csv", "layer.file"),
        ("ookla", ookla, "layer.period"),
    ]
    for kind, path, rule in cases:
        with pytest.raises(LayerFormatError) as caught:
            import_layer(kind, path, tmp_path / "var")
        assert caught.value.rule == rule
    assert import_layer("ookla", ookla, tmp_path / "var", period="2024Q1")["rows"] == 0
    assert list_layers(tmp_path / "empty") == []
