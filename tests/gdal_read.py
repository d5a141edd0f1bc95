"""Read back what GDAL (the library QGIS opens rasters and GeoPackages with) sees in a file:
band category names, the raster attribute table, the unit; vector fields' alternative names.

Uses the GDAL that rasterio ships (ctypes), so the checks need no GDAL Python bindings.
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any


def _lib() -> ctypes.CDLL:
    import rasterio

    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(rasterio.__file__)), "rasterio.libs",
                                  "libgdal-*.so*"))
    lib = ctypes.CDLL(libs[0]) if libs else ctypes.CDLL("libgdal.so")
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    for name, res, args in (
            ("GDALAllRegister", None, []), ("GDALOpenEx", vp, [cp, ctypes.c_uint, vp, vp, vp]),
            ("GDALClose", None, [vp]), ("GDALGetRasterBand", vp, [vp, i]),
            ("GDALGetRasterCategoryNames", ctypes.POINTER(cp), [vp]), ("GDALGetRasterUnitType", cp, [vp]),
            ("GDALGetDefaultRAT", vp, [vp]), ("GDALRATGetRowCount", i, [vp]), ("GDALRATGetColumnCount", i, [vp]),
            ("GDALRATGetNameOfCol", cp, [vp, i]), ("GDALRATGetValueAsString", cp, [vp, i, i]),
            ("GDALDatasetGetLayerByName", vp, [vp, cp]), ("OGR_L_GetLayerDefn", vp, [vp]),
            ("OGR_FD_GetFieldCount", i, [vp]), ("OGR_FD_GetFieldDefn", vp, [vp, i]),
            ("OGR_Fld_GetNameRef", cp, [vp]), ("OGR_Fld_GetAlternativeNameRef", cp, [vp])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    lib.GDALAllRegister()
    return lib


def raster_band(path: str | os.PathLike) -> dict[str, Any]:
    """``{"categories": [...], "unit": str, "rat": [{column: value}, ...]}`` of band 1."""
    lib = _lib()
    ds = lib.GDALOpenEx(str(path).encode(), 0x02, None, None, None)  # GDAL_OF_RASTER
    assert ds, f"GDAL cannot open {path}"
    try:
        band = lib.GDALGetRasterBand(ds, 1)
        # GDAL's GeoTIFF driver loads the .aux.xml lazily, on the first call that needs it
        # (the unit, the attribute table, metadata: what QGIS asks for when it opens a layer);
        # the category names alone do not trigger it
        unit = (lib.GDALGetRasterUnitType(band) or b"").decode()
        rat = lib.GDALGetDefaultRAT(band)
        names = lib.GDALGetRasterCategoryNames(band)
        cats = []
        k = 0
        while names and names[k] is not None:
            cats.append(names[k].decode())
            k += 1
        rows = []
        if rat:
            cols = [lib.GDALRATGetNameOfCol(rat, c).decode() for c in range(lib.GDALRATGetColumnCount(rat))]
            rows = [{col: lib.GDALRATGetValueAsString(rat, r, c).decode() for c, col in enumerate(cols)}
                    for r in range(lib.GDALRATGetRowCount(rat))]
        return {"categories": cats, "unit": unit, "rat": rows}
    finally:
        lib.GDALClose(ds)


def field_aliases(path: str | os.PathLike, layer: str) -> dict[str, str]:
    """``{field name: alternative name}`` of a vector layer, as GDAL reads them."""
    lib = _lib()
    ds = lib.GDALOpenEx(str(path).encode(), 0x04, None, None, None)  # GDAL_OF_VECTOR
    assert ds, f"GDAL cannot open {path}"
    try:
        lyr = lib.GDALDatasetGetLayerByName(ds, layer.encode())
        defn = lib.OGR_L_GetLayerDefn(lyr)
        out = {}
        for k in range(lib.OGR_FD_GetFieldCount(defn)):
            fld = lib.OGR_FD_GetFieldDefn(defn, k)
            out[lib.OGR_Fld_GetNameRef(fld).decode()] = (lib.OGR_Fld_GetAlternativeNameRef(fld) or b"").decode()
        return out
    finally:
        lib.GDALClose(ds)
