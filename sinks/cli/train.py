"""``sinks train IMAGE... --samples VECTOR --label-field NAME -o MODEL``: fit a supervised classifier."""

from __future__ import annotations

import click

from .options import bands_options, max_pixels_option, open_acquisitions, overwrite_option


@click.command("train")
@max_pixels_option
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--samples", required=True, help="Labelled points or polygons (any GDAL vector source).")
@click.option("--label-field", required=True, help="Field with legend names (forest, grassland, ...).")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False), help="Model file to write.")
@bands_options
@click.option("--model-type", type=click.Choice(["rf", "hgb"]), default="rf", show_default=True,
              help="Random forest or histogram gradient boosting.")
@click.option("--no-texture", is_flag=True, help="Bands and indices only (no 5x5 neighbourhood features).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--date", "dates", multiple=True, help="Acquisition date of each IMAGE (YYYY-MM-DD), in order.")
@overwrite_option
def cli(images: tuple[str, ...], samples: str, label_field: str, out: str, sensor: str | None, bands: str | None,
        scale: float | None, offset: float | None, model_type: str, no_texture: bool, seed: int,
        dates: tuple[str, ...], overwrite: bool) -> None:
    """Train a land-cover model on IMAGE (one or more acquisitions of one area, stacked)
    and the labelled --samples; saved with skops (no pickle), with its feature list,
    band roles, legend and spatially cross-validated accuracy."""
    import warnings

    from ..classify.supervised import save_model, train
    from ..outputs import ensure_writable

    ensure_writable([out], overwrite=overwrite)
    scenes, grid, profile = open_acquisitions(images, dates, sensor=sensor, bands=bands, scale=scale,
                                              offset=offset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = train(scenes, samples, label_field=label_field, grid=grid, sensor=profile.name,
                      roles=profile.reflectance_roles, model_type=model_type, seed=seed, texture=not no_texture)
    for w in caught:
        if issubclass(w.category, UserWarning):
            click.echo(f"Warning: {w.message}", err=True)
    save_model(model, out, overwrite=overwrite)
    m = model.meta
    click.echo(f"wrote {out}: {m['model_type']} on {m['n_samples']} samples, {len(m['feature_names'])} features")
    if "cv_accuracy" in m:
        click.echo(f"  spatial {m['cv_folds']}-fold CV accuracy: {m['cv_accuracy']:.3f}")
        for name, acc in m["cv_class_accuracy"].items():
            ua = "-" if acc["user"] is None else f"{acc['user']:.3f}"
            click.echo(f"  {name:<10} producer {acc['producer']:.3f}  user {ua}")
