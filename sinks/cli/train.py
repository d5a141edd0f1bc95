"""``sinks train IMAGE... (--samples VECTOR --label-field NAME | --reference-map MAP) -o MODEL``."""

from __future__ import annotations

import click

from ..errors import ConfigError
from .options import (bands_options, echoed_warnings, max_pixels_option, open_acquisitions, out_option,
                      overwrite_option)


@click.command("train")
@max_pixels_option
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--samples", default=None, help="Labelled points or polygons (any GDAL vector source).")
@click.option("--label-field", default=None, help="Field of --samples with legend names (forest, grassland, ...).")
@click.option("--reference-map", "reference_maps", multiple=True, type=click.Path(dir_okay=False),
              help="Land-cover map to draw training pixels from (ESA WorldCover, CLCD, a sinks map ...); "
                   "repeat with an older map to train only where they agree.")
@click.option("--reference-legend", default="sinks", show_default=True,
              help="Legend of --reference-map: sinks, clcd, worldcover, or a YAML/CSV code mapping.")
@click.option("--per-class", type=int, default=None,
              help="Cap on the training pixels drawn per class from --reference-map (default 5000).")
@out_option("Model file to write.", required=True)
@bands_options
@click.option("--model-type", type=click.Choice(["rf", "hgb"]), default="rf", show_default=True,
              help="Random forest or histogram gradient boosting.")
@click.option("--no-texture", is_flag=True, help="Bands and indices only (no 5x5 neighbourhood features).")
@click.option("--features", type=click.Choice(["standard", "extended"]), default="standard", show_default=True,
              help="Feature set: 'extended' adds NBR and BSI per acquisition and, with several acquisitions, "
                   "the min/median/max/amplitude of NDVI, MNDWI and NBR across them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--date", "dates", multiple=True, help="Acquisition date of each IMAGE (YYYY-MM-DD), in order.")
@overwrite_option
def cli(images: tuple[str, ...], samples: str | None, label_field: str | None, reference_maps: tuple[str, ...],
        reference_legend: str, per_class: int | None, out: str, sensor: str | None, bands: str | None,
        scale: float | None, offset: float | None, model_type: str, no_texture: bool, features: str, seed: int,
        dates: tuple[str, ...], overwrite: bool) -> None:
    """Train a land-cover model on IMAGE (one or more acquisitions of one area, stacked)
    and labelled --samples, or pixels drawn from an existing land-cover map
    (--reference-map: stratified by class, homogeneous 3x3 windows only, warped to the
    image grid on the fly).  Saved with skops (no pickle), with its feature list, band
    roles, legend, sample counts and spatially cross-validated accuracy."""
    from ..classify.reference import DEFAULT_PER_CLASS, reference_lut, reference_pixels
    from ..classify.supervised import save_model, train
    from ..outputs import ensure_writable

    if bool(samples) == bool(reference_maps):
        raise ConfigError("give either --samples (with --label-field) or --reference-map")
    if samples and not label_field:
        raise ConfigError("--samples needs --label-field, the field holding the class names")
    if per_class is not None and not reference_maps:
        raise ConfigError("--per-class applies to --reference-map only")
    ensure_writable([out], overwrite=overwrite)
    lut = reference_lut(reference_legend) if reference_maps else None
    scenes, grid, profile = open_acquisitions(images, dates, sensor=sensor, bands=bands, scale=scale,
                                              offset=offset)
    drawn = None
    with echoed_warnings():
        if reference_maps:
            drawn = reference_pixels(reference_maps, lut, grid, per_class=per_class or DEFAULT_PER_CLASS, seed=seed)
            model = train(scenes, grid=grid, sensor=profile.name, roles=profile.reflectance_roles,
                          model_type=model_type, seed=seed, texture=not no_texture, features=features,
                          pixels=(drawn.rows, drawn.cols, drawn.codes))
            model.meta["training"] = {"reference_maps": list(reference_maps), "legend": reference_legend,
                                      "per_class": per_class or DEFAULT_PER_CLASS, "eligible_pixels": drawn.eligible}
        else:
            model = train(scenes, samples, label_field=label_field, grid=grid, sensor=profile.name,
                          roles=profile.reflectance_roles, model_type=model_type, seed=seed,
                          texture=not no_texture, features=features)
            model.meta["training"] = {"samples": samples, "label_field": label_field}
    save_model(model, out, overwrite=overwrite)
    m = model.meta
    click.echo(f"wrote {out}: {m['model_type']} on {m['n_samples']} samples, {len(m['feature_names'])} features")
    for name, n in m["samples_per_class"].items():
        extra = f" of {drawn.eligible[name]:,} eligible" if drawn is not None and name in drawn.eligible else ""
        click.echo(f"  {name:<10} {n:>7,} samples{extra}")
    if "cv_accuracy" in m:
        click.echo(f"  spatial {m['cv_folds']}-fold CV accuracy: {m['cv_accuracy']:.3f}")
        for name, acc in m["cv_class_accuracy"].items():
            ua = "-" if acc["user"] is None else f"{acc['user']:.3f}"
            click.echo(f"  {name:<10} producer {acc['producer']:.3f}  user {ua}")
