"""Typical surface reflectance of each class at the Sentinel-2 bands B02 B03 B04 B08 B11 B12.

Values are rounded, representative reflectances (0–1) for the dry season (January)
and the growing season (August) of a subtropical coast.  They were composed from
published typical spectra, not measured here:

* vegetation (forest, grassland, green crops): the shape of green-leaf spectra in the
  USGS Spectral Library v7 (Kokaly et al. 2017, USGS Data Series 1035) and the
  ECOSTRESS library (Meerdink et al. 2019, RSE 230:111196) — low blue/red, green peak,
  high NIR plateau, SWIR lowered by leaf water; canopy-level NIR 0.25–0.35 as typical of
  Sentinel-2 L2A over closed canopies;
* mangroves: closed mangrove canopy over wet mud, lower SWIR1 than terrestrial forest
  (the basis of the MVI of Baloloy et al. 2020, ISPRS J. 166:95, whose Fig. 3 shows
  mangroves with NIR ≈ 0.25–0.30 and SWIR1 ≈ 0.08–0.10 against ≈ 0.15–0.20 for
  terrestrial forest, giving MVI = |NIR − G| / |SWIR1 − G| ≈ 4.5–5 as in the 4.5–16.5
  mangrove range the paper reports; terrestrial forest ≈ 2.8);
* water: turbid coastal water, highest in green, near zero in NIR/SWIR (USGS v7,
  "seawater coastal" and Pekel et al. 2016 for the MNDWI contrast);
* built-up: concrete/asphalt/roof mixtures, flat and bright with SWIR1 > NIR (the
  NDBI premise of Zha et al. 2003, IJRS 24:583; USGS v7 construction materials);
* bare: dry sand/quarry rock (bright, rising to SWIR) and wet tidal mud (darker);
* cropland: bare tilled soil in January, a green crop in August (USGS v7 soils and
  crop canopies);
* marsh (wetland): flooded in January (water with emergent stems), green in August.
"""

from __future__ import annotations

import numpy as np

from ..landcover import CODES

__all__ = ["BANDS", "SPECTRA", "season_spectra", "CLOUD", "SOURCES"]

BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")

#: (dry season January, growing season August) reflectance per class.
SPECTRA: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "forest":    ((0.030, 0.055, 0.035, 0.300, 0.150, 0.065), (0.028, 0.058, 0.032, 0.330, 0.155, 0.065)),
    "grassland": ((0.060, 0.085, 0.090, 0.180, 0.250, 0.170), (0.045, 0.080, 0.080, 0.260, 0.230, 0.135)),
    "wetland":   ((0.060, 0.080, 0.065, 0.085, 0.045, 0.025), (0.035, 0.070, 0.045, 0.260, 0.140, 0.065)),
    "mangrove":  ((0.025, 0.043, 0.030, 0.260, 0.090, 0.037), (0.024, 0.045, 0.028, 0.285, 0.092, 0.038)),
    "water":     ((0.075, 0.090, 0.070, 0.030, 0.012, 0.008), (0.080, 0.095, 0.075, 0.035, 0.012, 0.008)),
    "cropland":  ((0.090, 0.120, 0.150, 0.210, 0.290, 0.235), (0.035, 0.075, 0.045, 0.380, 0.220, 0.105)),
    "built_up":  ((0.120, 0.130, 0.140, 0.195, 0.250, 0.225), (0.120, 0.132, 0.142, 0.200, 0.255, 0.228)),
    "bare":      ((0.170, 0.210, 0.260, 0.300, 0.360, 0.310), (0.170, 0.210, 0.260, 0.300, 0.360, 0.310)),
}
#: Wet tidal mud (the bare class inside the intertidal band).
MUDFLAT = ((0.070, 0.090, 0.100, 0.115, 0.105, 0.080), (0.070, 0.090, 0.100, 0.118, 0.105, 0.080))
#: Thick cloud (bright in every band).
CLOUD = (0.55, 0.55, 0.56, 0.60, 0.45, 0.35)

SOURCES = {
    "forest": "USGS splib07 / ECOSTRESS green-leaf shape; closed subtropical evergreen canopy",
    "grassland": "USGS splib07 grass (green, Aug) and dry grass mixture (Jan)",
    "wetland": "emergent marsh: green (Aug), flooded with sparse stems (Jan)",
    "mangrove": "Baloloy et al. 2020 Fig. 3 (mangrove vs terrestrial forest SWIR1)",
    "water": "USGS splib07 coastal sea water; turbid, green peak",
    "cropland": "USGS splib07 tilled soil (Jan) and green crop canopy (Aug)",
    "built_up": "USGS splib07 concrete/asphalt/roof mixture; SWIR1 > NIR (Zha et al. 2003)",
    "bare": "USGS splib07 dry sand / quarry rock; wet tidal mud in the intertidal band",
}


def season_spectra(season: int) -> np.ndarray:
    """``(9, 6)`` table indexed by legend code (row 0 unused) for season 0 (Jan) or 1 (Aug)."""
    tab = np.zeros((9, 6), dtype=np.float32)
    for name, pair in SPECTRA.items():
        tab[CODES[name]] = pair[season]
    return tab
