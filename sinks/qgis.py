"""Make the outputs open ready-styled in QGIS (and any GDAL-based GIS).

Beside each raster the run writes, after the raster itself:

* ``<name>.tif.aux.xml`` — GDAL's auxiliary metadata (PAM), which GDAL, QGIS, rasterio and
  rioxarray read with the file: for land cover and change maps the **category names** and a
  **raster attribute table** (value, class, label, colour; for change also from, to and the
  kind of change); for continuous layers the **unit** (``Mg C/ha``, ``Mg C``).  The nodata
  value is in the GeoTIFF itself.
* ``<name>.qml`` — a QGIS layer style for land cover and change maps: a paletted renderer
  with the legend's colours and labels, which QGIS applies when the layer is opened.

GeoPackage tables get field aliases (``gpkg_data_columns``, the GeoPackage schema
extension): GDAL reads their ``name`` as the fields' alternative names and QGIS shows
them as aliases, so ``stock_mg_c_total_2015`` reads ``carbon stock 2015 (Mg C)``.

The COG writer (:mod:`sinks.outputs`) is not involved: these files are written after it,
each atomically, and announced to the run so ``--overwrite`` removes them with the raster.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .labels import column_label
from .landcover import CLASSES, CODES, ECOLOGICAL, NODATA

__all__ = ["write_sidecars", "raster_sidecars", "landcover_categories", "change_categories", "qml",
           "gpkg_field_aliases"]

log = logging.getLogger("sinks")

#: GDAL raster attribute table field types and usages (gdal.h: GDALRATFieldType, GDALRATFieldUsage).
_GFT = {"int": 0, "real": 1, "str": 2}
_GFU = {"generic": 0, "name": 2, "minmax": 5, "red": 6, "green": 7, "blue": 8, "alpha": 9}

Category = dict[str, Any]


def _text(value: str) -> str:
    """``value`` escaped for XML text (``&``, ``<``, ``>``); html's escaper, which loads in a
    fraction of xml.sax's time (that one imports urllib)."""
    return html.escape(value, quote=False)


def _attr(value: str) -> str:
    """``value`` as a quoted XML attribute value."""
    return '"' + html.escape(value, quote=True) + '"'



def _rgba(colour: str) -> tuple[int, int, int, int]:
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255


def landcover_categories() -> list[Category]:
    """One entry per land-cover code: ``value, class, label, rgba`` (nodata first)."""
    out = [{"value": NODATA, "class": "nodata", "label": "No data", "rgba": (0, 0, 0, 0)}]
    out += [{"value": c.code, "class": c.name, "label": c.label, "rgba": _rgba(c.colour)} for c in CLASSES]
    return out


def change_categories() -> list[Category]:
    """One entry per transition code (``from*16+to``): class names, the kind of change and its colour."""
    from .change import LOSS_TARGETS, change_colormap

    cmap = change_colormap()
    eco = {CODES[n] for n in ECOLOGICAL}
    out = [{"value": NODATA, "class": "nodata", "label": "No data", "from": "", "to": "", "change": "",
            "rgba": (0, 0, 0, 0)}]
    for f in CLASSES:
        for t in CLASSES:
            if f.code == t.code:
                kind = "unchanged"
            elif f.code in eco and t.name in LOSS_TARGETS:
                kind = "ecological land lost"
            elif f.code not in eco and t.code in eco:
                kind = "ecological land gained"
            else:
                kind = "other change"
            code = f.code * 16 + t.code
            out.append({"value": code, "class": f"{f.name}->{t.name}", "label": f"{f.label} → {t.label}",
                        "from": f.name, "to": t.name, "change": kind, "rgba": tuple(cmap[code])})
    return out


def _pam(*, categories: Sequence[Category] | None = None, unit: str | None = None,
         description: str | None = None) -> str:
    """The ``.aux.xml`` text of a one-band raster."""
    band = []
    if description:
        band.append(f"    <Description>{_text(description)}</Description>")
    if unit:
        band.append(f"    <UnitType>{_text(unit)}</UnitType>")
    if categories:
        by_value = {c["value"]: c for c in categories}
        names = [by_value[v]["label"] if v in by_value else "" for v in range(max(by_value) + 1)]
        band.append("    <CategoryNames>")
        band += [f"      <Category>{_text(n)}</Category>" for n in names]
        band.append("    </CategoryNames>")
        extra = [k for k in ("from", "to", "change") if k in categories[0]]
        fields = ([("value", "int", "minmax"), ("class", "str", "name"), ("label", "str", "generic")]
                  + [(k, "str", "generic") for k in extra]
                  + [("red", "int", "red"), ("green", "int", "green"), ("blue", "int", "blue"),
                     ("alpha", "int", "alpha")])
        band.append('    <GDALRasterAttributeTable tableType="thematic">')
        for i, (name, typ, usage) in enumerate(fields):
            band.append(f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{_GFT[typ]}</Type>'
                        f"<Usage>{_GFU[usage]}</Usage></FieldDefn>")
        for i, c in enumerate(categories):
            vals = [c["value"], c["class"], c["label"], *(c[k] for k in extra), *c["rgba"]]
            band.append(f'      <Row index="{i}">' + "".join(f"<F>{_text(str(v))}</F>" for v in vals) + "</Row>")
        band.append("    </GDALRasterAttributeTable>")
    return ('<PAMDataset>\n  <PAMRasterBand band="1">\n' + "\n".join(band) + "\n  </PAMRasterBand>\n</PAMDataset>\n")


def qml(categories: Sequence[Category], *, nodata: int | None = 0) -> str:
    """A QGIS style (``.qml``): paletted renderer of band 1 with each category's colour and label."""
    entries = "\n".join(
        f'        <paletteEntry value="{c["value"]}" color={_attr("#%02x%02x%02x" % tuple(c["rgba"][:3]))} '
        f'alpha="{c["rgba"][3]}" label={_attr(c["label"])}/>'
        for c in categories if c["value"] != nodata)
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology">
  <pipe>
    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
{entries}
      </colorPalette>
      <colorramp type="randomcolors" name="[source]"/>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeOn="0" grayscaleMode="0" invertColors="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
"""


def raster_sidecars(path: str | os.PathLike, *, kind: str, unit: str | None = None,
                    description: str | None = None) -> dict[Path, str]:
    """The side files of one raster and their text: ``{path: text}``.

    Parameters
    ----------
    path : path
        The GeoTIFF.
    kind : {"landcover", "change", "continuous"}
    unit : str, optional
        Unit of a continuous layer (``Mg C/ha``).
    description : str, optional
        Band description, repeated in the ``.aux.xml`` (GDAL lets its PAM description
        take precedence over the file's).
    """
    p = Path(path)
    if kind in ("landcover", "change"):
        cats = landcover_categories() if kind == "landcover" else change_categories()
        return {p.with_name(p.name + ".aux.xml"): _pam(categories=cats, description=description),
                p.with_suffix(".qml"): qml(cats)}
    if kind == "continuous":
        return {p.with_name(p.name + ".aux.xml"): _pam(unit=unit, description=description)} if unit else {}
    raise ValueError(f"unknown raster kind {kind!r}")


def _kind(out: Any) -> tuple[str, str | None]:
    tags: Mapping[str, str] = out.tags or {}
    if str(tags.get("encoding", "")).startswith("from*16+to"):
        return "change", None
    if out.categorical and out.colormap:
        return "landcover", None
    unit = tags.get("units") or tags.get("unit")
    return "continuous", (None if unit in (None, "", "reflectance") else str(unit))


def write_sidecars(outputs: Iterable[Any]) -> list[Path]:
    """Write the QGIS side files of written :class:`~sinks.outputs.RasterOutput` layers.

    Land cover (categorical with a colour table) and change maps (tagged
    ``encoding=from*16+to``) get category names, an attribute table and a ``.qml``;
    continuous layers with a ``units`` tag get their unit.  Returns the files written.
    """
    from .outputs import atomic_write_text

    written = []
    for out in outputs:
        kind, unit = _kind(out)
        if kind == "continuous" and unit is None:
            continue
        if kind == "continuous" and unit == "Mg C per pixel":
            unit = "Mg C"
        for side, text in raster_sidecars(out.path, kind=kind, unit=unit,
                                          description=out.description or None).items():
            # the side files belong to the raster just written: a stale one is replaced
            written.append(atomic_write_text(side, text, overwrite=True))
    return written


# --------------------------------------------------------------------------------------
# GeoPackage field aliases
# --------------------------------------------------------------------------------------
_SCHEMA_EXT = ("gpkg_schema", "http://www.geopackage.org/spec/#extension_schema", "read-write")


def gpkg_field_aliases(path: str | os.PathLike, layer: str, columns: Iterable[str]) -> int:
    """Give the indicator columns of ``layer`` readable aliases (``gpkg_data_columns.title``).

    Only columns that :func:`sinks.labels.column_label` knows get one; returns how many.
    """
    rows = [(layer, c, column_label(c)) for c in columns if column_label(c) != c]
    if not rows:
        return 0
    import sqlite3  # only for GeoPackage tables (not loaded by commands that write rasters alone)

    con = sqlite3.connect(str(path))
    try:
        with con:
            con.execute("CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT "
                        "NOT NULL, name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
                        "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE "
                        "(table_name, name))")
            con.execute("CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (constraint_name TEXT NOT NULL, "
                        "constraint_type TEXT NOT NULL, value TEXT, min NUMERIC, min_is_inclusive BOOLEAN, "
                        "max NUMERIC, max_is_inclusive BOOLEAN, description TEXT, CONSTRAINT gdcc_ntv UNIQUE "
                        "(constraint_name, constraint_type, value))")
            con.execute("CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
                        "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
                        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")
            for table in ("gpkg_data_columns", "gpkg_data_column_constraints"):
                if not con.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = ?",
                                   (table, _SCHEMA_EXT[0])).fetchone():
                    con.execute("INSERT INTO gpkg_extensions VALUES (?, NULL, ?, ?, ?)", (table, *_SCHEMA_EXT))
            # GDAL reads ``name`` as the field's alternative name (QGIS: its alias); ``title`` too
            con.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title) "
                            "VALUES (?, ?, ?, ?)", [(t, c, title, title) for t, c, title in rows])
    finally:
        con.close()
    return len(rows)
