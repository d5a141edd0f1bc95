"""``sinks accuracy MAP --reference VECTOR --label-field NAME``: map accuracy and adjusted areas."""

from __future__ import annotations

import math
import warnings
from typing import Any

import click
import numpy as np

from .options import echo_json, out_option, overwrite_option


@click.command("accuracy")
@click.argument("map_path", metavar="MAP", type=click.Path(dir_okay=False))
@click.option("--reference", "-r", required=True, type=click.Path(),
              help="Reference sample (points or polygons): GeoPackage, Shapefile, GeoJSON, GeoParquet ...")
@click.option("--label-field", required=True, help="Field with the reference class (legend name or code).")
@click.option("--layer", default=None, help="Layer of the reference file.")
@click.option("--pixel-area-ha", type=float, default=None,
              help="Override the pixel area in ha (default: from the map's grid).")
@click.option("--stratum-field", default=None,
              help="Field with each sample's stratum when the strata are not the map classes "
                   "(default: 'stratum' if the sample has it).")
@click.option("--stratum-sizes", type=click.Path(dir_okay=False), default=None,
              help="CSV with columns stratum,area_ha: the size of every stratum.")
@click.option("--stratum-size-field", default=None,
              help="Field with the size (ha) of each sample's stratum (default: 'stratum_area_ha' if present).")
@click.option("--estimator", type=click.Choice(["auto", "olofsson", "stehman"]), default="auto", show_default=True,
              help="auto: Stehman 2014 when the sample has strata, Olofsson 2014 (map classes as strata) otherwise.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@out_option("Also write the JSON result to this file.")
@overwrite_option
def cli(map_path: str, reference: str, label_field: str, layer: str | None, pixel_area_ha: float | None,
        stratum_field: str | None, stratum_sizes: str | None, stratum_size_field: str | None, estimator: str,
        as_json: bool, out: str | None, overwrite: bool) -> None:
    """Assess the land-cover MAP against a reference sample.

    Prints the confusion matrix (sample counts), overall accuracy, kappa, user's and
    producer's accuracy per class, and area-adjusted class areas with 95 % confidence
    intervals.  A sample stratified by map class (or simple random) is estimated with
    Olofsson et al. (2014); a sample whose strata are something else (a stratum field
    and the size of each stratum) with Stehman (2014).  When the sample's design does
    not fit the estimator, a one-line warning says so and the estimates that would be
    wrong are not printed.
    """
    from ..accuracy import assess_map
    from ..outputs import atomic_write_json, ensure_writable

    if out:
        ensure_writable([out], overwrite=overwrite)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = assess_map(map_path, reference, label_field=label_field, pixel_area_ha=pixel_area_ha,
                            layer=layer, stratum_field=stratum_field, stratum_sizes=stratum_sizes,
                            stratum_size_field=stratum_size_field, estimator=estimator)
    for w in caught:
        if issubclass(w.category, UserWarning):  # SinksWarning and friends; not deprecation noise
            click.echo(f"Warning: {w.message}", err=True)
    data = result.to_dict()
    if out:
        atomic_write_json(out, data, overwrite=overwrite)
    if as_json:
        echo_json(data)
    else:
        click.echo(format_result(result))
        if out:
            click.echo(f"\nwrote {out}")


_CORNER = "map \\ reference"


def _f(v: Any, fmt: str) -> str:
    v = float(v)
    return "n/a" if math.isnan(v) else format(v, fmt)


def format_result(result: Any) -> str:
    """Readable text of an :class:`~sinks.accuracy.AccuracyResult`."""
    classes = list(result.classes)
    width = max([len(c) for c in classes] + [len(_CORNER), 5])
    src = result.sources
    lines: list[str] = []
    if src:
        lines.append(f"Accuracy of {src.get('map', '?')} against {src.get('reference', '?')} "
                     f"(label field {src.get('label_field', '?')!r})")
    dropped = {k: v for k, v in result.n_dropped.items() if v}
    parts = [f"{v} {k.replace('_', ' ')}" for k, v in dropped.items()]
    lines.append(f"samples: {result.n_samples}" + (f" (dropped: {', '.join(parts)})" if parts else ""))
    lines.append(f"estimator: {result.method}")
    strata = (result.design or {}).get("strata")
    if strata:
        lines.append("strata: " + ", ".join(f"{h} ({v['n']} samples, {v['size_ha']:,.2f} ha)" for h, v in strata.items()))
    lines.append("")
    lines.append("Confusion matrix (sample counts; rows = map, columns = reference)")
    colw = max([len(c) for c in classes] + [6])
    header = f"{_CORNER:<{width}}  " + "  ".join(f"{c:>{colw}}" for c in classes) + f"  {'total':>{colw}}"
    lines.append(header)
    counts = result.counts
    for i, c in enumerate(classes):
        row = "  ".join(f"{int(v):>{colw}d}" for v in counts[i])
        lines.append(f"{c:<{width}}  {row}  {int(counts[i].sum()):>{colw}d}")
    total = "  ".join(f"{int(v):>{colw}d}" for v in counts.sum(axis=0))
    lines.append(f"{'total':<{width}}  {total}  {int(counts.sum()):>{colw}d}")
    lines.append("")
    lines.append(f"overall accuracy (area-weighted): {_f(result.overall_accuracy, '.3f')} "
                 f"± {_f(result.overall_accuracy_ci95, '.3f')} (95 % CI)")
    lines.append(f"kappa (sample counts):            {_f(result.kappa, '.3f')}")
    lines.append("")
    lines.append("Per class (UA = user's, PA = producer's accuracy; ± = 95 % CI; areas in ha)")
    head = (f"{'class':<{width}}  {'mapped ha':>12}  {'adjusted ha':>12}  {'± ha':>10}  "
            f"{'UA':>5}  {'±':>5}  {'PA':>5}  {'±':>5}")
    lines.append(head)
    for i, c in enumerate(classes):
        lines.append(
            f"{c:<{width}}  {_f(result.mapped_area_ha[i], '12,.2f')}  {_f(result.area_ha[i], '12,.2f')}  "
            f"{_f(result.area_ci95_ha[i], '10,.2f')}  {_f(result.user_accuracy[i], '5.3f')}  "
            f"{_f(result.user_accuracy_ci95[i], '5.3f')}  {_f(result.producer_accuracy[i], '5.3f')}  "
            f"{_f(result.producer_accuracy_ci95[i], '5.3f')}"
        )
    lines.append(f"{'total':<{width}}  {_f(np.nansum(result.mapped_area_ha), '12,.2f')}  "
                 f"{_f(result.area_ha.sum(), '12,.2f')}")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
