"""``gate faces evaluate`` and ``gate plates evaluate`` (registered in gate/cli.py).

Both print a summary (``--json``: exactly one object) and leave per-image
rows (CSV and JSON Lines), ``summary.json`` and a PNG chart in OUT.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from recognition.plates import PlateReader


def _globals(ctx: typer.Context) -> Any:
    return ctx.obj


def faces_evaluate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(
        help="known/<person_id>/*.jpg and strangers/*.jpg (optional spoof/*.jpg)")],
    enrol: Annotated[int, typer.Option("--enrol", min=1,
                                       help="Photos enrolled per person (the rest probe)")] = 5,
    out: Annotated[Path | None, typer.Option(help="Output folder (default DIR/evaluation)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object")]
    = False,
) -> None:
    """Identification of enrolled people and acceptance of strangers on your own photos,
    with a threshold trade-off chart to choose the operating point from."""
    from gate.cli_output import emit, fail
    from gate.evaluate_faces import EvaluationError, best_operating_point, run
    from gate.evaluate_output import threshold_chart, write_rows, write_summary

    if not directory.is_dir():
        fail(f"{directory}: not a folder")
    config = _globals(ctx).config()
    try:
        rows, summary = run(directory, config.faces, enrol=enrol)
    except EvaluationError as exc:
        fail(str(exc))
    target = out or directory / "evaluation"
    files = write_rows(target, "faces", [r.as_dict() for r in rows])
    chart = threshold_chart(target / "faces_thresholds.png", summary["sweep"],
                            summary["threshold"],
                            f"{summary['people']} people enrolled, margin {summary['margin']}")
    best = best_operating_point(summary["sweep"], 0.02)
    summary["suggested_threshold_for_2pct"] = best["threshold"] if best else None
    summary["files"] = [str(p) for p in [*files, chart, write_summary(target, summary)]]
    if as_json:
        emit(summary)
        return
    typer.echo(f"people enrolled: {summary['people']} ({summary['enrolled_photos']} photos, "
               f"{summary['enrol_rejected']} rejected, {summary['enrol_warned']} with a warning)")
    typer.echo(f"identified: {summary['identified']:.3f} of {summary['probes']} probes "
               f"(wrong person {summary['wrong_person']:.3f})")
    typer.echo(f"strangers accepted: {summary['strangers_accepted']:.3f} of "
               f"{summary['strangers']}")
    typer.echo(f"threshold {summary['threshold']}, margin {summary['margin']}; "
               f"median {summary['ms_median']} ms per image; no face in {summary['no_face']}")
    if best:
        typer.echo(f"most identified with at most 2 % strangers: threshold {best['threshold']}"
                   f" ({best['identified']:.3f} identified)")
    if "liveness" in summary:
        typer.echo(f"liveness: {summary['liveness'] or 'model not installed'}")
    typer.echo(f"written to {target}")


def plate_reader_for(ctx: typer.Context, region: str | None, home_province: str | None
                     ) -> PlateReader:
    """The reader of ``gate plates read`` and ``gate plates evaluate`` alike: the config's
    ``[plates]`` (region, home province, fast-path acceptance), overridden by the options.
    One place, so a school's evaluation measures exactly what the product reads."""
    from gate.cli_output import fail
    from gate.evaluate_plates import plate_reader
    from recognition.plate_formats import province

    plates = _globals(ctx).config().plates
    region = region or plates.region
    home_province = home_province or plates.home_province
    if region not in ("cn", "generic"):
        fail("--region: must be cn or generic")
    try:
        home_province = None if home_province is None else province(home_province)
    except ValueError as exc:
        fail(f"--home-province: {exc}")
    return plate_reader(plates, region, home_province)


REGION_HELP = "cn | generic (default: the config's plates.region)"
HOME_PROVINCE_HELP = ("cn: the province assumed when a read lost it (default: the config's "
                      "plates.home_province; none: such a read is no read)")


def faces_liveness_evaluate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(
        help="live/ and spoof/ (or spoof/<species>/): photos or short clips")],
    apcer: Annotated[float, typer.Option(
        "--apcer", min=0.0, max=1.0,
        help="The share of attacks you accept as live: the threshold that achieves it is "
             "reported")] = 0.05,
    out: Annotated[Path | None, typer.Option(help="Output folder (default DIR/evaluation)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object")]
    = False,
) -> None:
    """APCER and BPCER (ISO/IEC 30107-3) of the liveness check on your own live and spoof
    recordings, at the configured threshold and at the one for a chosen APCER, with a DET
    chart."""
    from gate.cli_output import emit, fail
    from gate.evaluate_liveness import EvaluationError, run
    from gate.evaluate_output import det_chart, write_rows, write_summary

    if not directory.is_dir():
        fail(f"{directory}: not a folder")
    faces = _globals(ctx).config().faces
    try:
        rows, summary = run(directory, faces, target_apcer=apcer)
    except EvaluationError as exc:
        fail(str(exc))
    target = out or directory / "evaluation"
    files = write_rows(target, "liveness", [r.as_dict() for r in rows])
    configured = summary["configured"]
    marks = [{**configured, "label": "configured"}]
    if summary["at_target"]:
        marks.append({**summary["at_target"], "label": f"for APCER <= {apcer:g}"})
    chart = det_chart(target / "liveness_det.png", summary["det"], marks,
                      f"{summary['scored_bona_fide']} live, {summary['scored_attacks']} "
                      f"attacks scored")
    summary["files"] = [str(p) for p in [*files, chart, write_summary(target, summary)]]
    if as_json:
        emit(summary)
        return
    species = ", ".join(f"{k} {v}" for k, v in summary["attack_species"].items())
    typer.echo(f"live: {summary['bona_fide']} ({summary['no_face_bona_fide']} without a face); "
               f"attacks: {summary['attacks']} ({species}; {summary['no_face_attacks']} "
               f"without a face)")
    per = ", ".join(f"{k} {v:.3f}" for k, v in configured["apcer_per_species"].items())
    typer.echo(f"at the configured threshold {configured['threshold']}: APCER "
               f"{configured['apcer']:.3f} ({per}), BPCER {configured['bpcer']:.3f}")
    chosen = summary["threshold_for_target"]
    if summary["at_target"]:
        typer.echo(f"for APCER <= {apcer:g}: threshold {chosen}, BPCER "
                   f"{summary['at_target']['bpcer']:.3f}")
    else:
        typer.echo(f"for APCER <= {apcer:g}: no threshold below 1 reaches it")
    b, a = summary["bona_fide_scores"], summary["attack_scores"]
    typer.echo(f"scores: live median {b['median']} (p10 {b['p10']}), attacks median "
               f"{a['median']} (p90 {a['p90']}); median {summary['ms_median']} ms each")
    typer.echo(f"written to {target}")


def plates_evaluate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Images and labels.tsv (file<TAB>plate)")],
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    home_province: Annotated[str | None, typer.Option(
        "--home-province", help=HOME_PROVINCE_HELP)] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default DIR/evaluation)")]
    = None,
    baseline: Annotated[bool, typer.Option(
        "--baseline", help="Also time and score whole-frame PP-OCR on every image")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object")]
    = False,
) -> None:
    """Exact plate reads on your own labelled photos, per plate type and per confidence
    bucket, with a chart of accuracy against confidence."""
    from gate.cli_output import emit, fail
    from gate.evaluate_output import confidence_chart, write_rows, write_summary
    from gate.evaluate_plates import EvaluationError, run

    reader = plate_reader_for(ctx, region, home_province)
    region = reader.region
    home_province = reader.home_province
    if not directory.is_dir():
        fail(f"{directory}: not a folder")
    try:
        rows, summary = run(directory, region, reader, baseline=baseline)
    except EvaluationError as exc:
        fail(str(exc))
    target = out or directory / "evaluation"
    files = write_rows(target, "plates", [r.as_dict() for r in rows])
    chart = confidence_chart(target / "plates_confidence.png", summary["per_confidence"],
                             f"{summary['images']} images, region {region}"
                             # the chart's font has no CJK glyphs: the province is in summary.json
                             + (", home province assumed" if home_province else ""))
    summary["files"] = [str(p) for p in [*files, chart, write_summary(target, summary)]]
    if as_json:
        emit(summary)
        return
    typer.echo(f"exact: {summary['exact']:.3f} of {summary['images']} images "
               f"(any read exact {summary['exact_any']:.3f}; no read {summary['no_read']}, "
               f"wrong {summary['wrong_read']})")
    for kind, t in sorted(summary["per_type"].items()):
        typer.echo(f"  {kind}: {t['exact']:.3f} of {t['images']}")
    for b in summary["per_confidence"]:
        if b["reads"]:
            typer.echo(f"  confidence {b['low']:.2f}-{b['high']:.2f}: {b['reads']} reads, "
                       f"{b['exact']:.3f} exact")
    typer.echo(f"median {summary['ms_median']} ms per image (p90 {summary['ms_p90']}); "
               f"slow path on {summary['fallback']:.2f} of images")
    if "baseline" in summary:
        b = summary["baseline"]
        typer.echo(f"whole-frame PP-OCR: exact {b['exact']:.3f}, median {b['ms_median']} ms "
                   f"({b['speedup_mean']}x our mean time)")
    typer.echo(f"written to {target}")
