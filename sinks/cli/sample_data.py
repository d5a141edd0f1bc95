"""``sinks sample-data OUT_DIR``: write the synthetic Beihai sample scene and a spec for it."""

from __future__ import annotations

import time

import click

from .options import overwrite_option


@click.command("sample-data")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--size", type=click.IntRange(64, 200_000), default=None,
              help="Pixels per side of the scene at 10 m (default 480; 6000+ for benchmarks).")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same files).")
@click.option("--aoi-dir", type=click.Path(file_okay=False), default=None,
              help="Where the vector data go (default OUT_DIR/aoi).")
@overwrite_option
def cli(out_dir: str, size: int | None, seed: int | None, aoi_dir: str | None, overwrite: bool) -> None:
    """Write a SYNTHETIC coastal scene near Beihai (EPSG:32649, 10 m): three epochs
    (2015, 2020, 2025) of two Sentinel-2 L2A-like acquisitions each as 2x2 COG tiles,
    the truth land cover of each epoch, redlines, regions, coastal zone, training and
    reference samples, and OUT_DIR/pipeline.yaml that runs on them."""
    from ..sampledata import DEFAULT_SEED, DEFAULT_SIZE, write_sample_data

    t0 = time.perf_counter()
    res = write_sample_data(out_dir, size=size or DEFAULT_SIZE, seed=DEFAULT_SEED if seed is None else seed,
                            aoi_dir=aoi_dir, overwrite=overwrite)
    click.echo(f"wrote {len(res.files)} files in {time.perf_counter() - t0:.1f} s: tiles and truth in {res.out_dir}, "
               f"vectors in {res.aoi_dir}")
    for year, areas in res.class_areas_ha.items():
        click.echo(f"  truth {year}: " + ", ".join(f"{k} {v:,.1f} ha" for k, v in areas.items()))
    click.echo(f"  run it: sinks run {res.out_dir / 'pipeline.yaml'} --out <dir>")
