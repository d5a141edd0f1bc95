"""``sinks run SPEC``: run a pipeline spec."""

from __future__ import annotations

from pathlib import Path

import click

from .options import max_pixels_option, overwrite_option


@click.command("run")
@max_pixels_option
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: ./runs/<spec name>).")
@overwrite_option
@click.option("--scheduler", default=None, help="Dask scheduler: threads (default) or synchronous.")
@click.option("--digest", type=click.Choice(["blake3", "sha256"]), default="blake3", show_default=True,
              help="Digest of every input in manifest.json (sha256 for checks with sha256sum).")
@click.pass_context
def cli(ctx: click.Context, spec: str, out: str | None, overwrite: bool, scheduler: str | None, digest: str) -> None:
    """Run the pipeline described by SPEC (YAML) and write maps, tables and a summary."""
    from ..pipeline import run
    from ..spec import load_spec

    parsed, spec_path = load_spec(spec)
    out_dir = Path(out) if out else Path("runs") / parsed.name
    quiet = ctx.find_root().params.get("quiet", False)

    def progress(msg: str) -> None:
        if not quiet:
            click.echo(f"  {msg}", err=True)

    if not quiet:
        click.echo(f"sinks run {spec_path} -> {out_dir}", err=True)
    try:
        summary = run(spec_path, out=out_dir, overwrite=overwrite, progress=progress, scheduler=scheduler,
                      digest=digest)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the run stopped; the files it had written in {out_dir} were removed") from None
    click.echo(f"done in {summary['timings_s']['total']:.1f} s; outputs in {out_dir}/")
    click.echo(f"  summary:  {out_dir / 'summary.json'}")
    click.echo(f"  manifest: {out_dir / 'manifest.json'}")
    report = out_dir / "report.html"
    if report.exists():
        click.echo(f"  report:   {report}")
