"""``emofx <command>``: the pipeline stages (what dvc.yaml runs) and the researcher's tools.

Every stage reads params.yaml (validated in full before any work starts) and fixed project paths,
opens one MLflow parent run, and writes the files of its DESIGN.md contract.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from emofx.config import Params, ParamsError, load_params
from emofx.lifetime import die_with_dvc

console = Console(stderr=True)


@dataclass(frozen=True)
class ProjectPaths:
    """Where each stage writes (mirrored by dvc.yaml's outs)."""

    dataset: str

    @property
    def prepared(self) -> Path:
        return Path("data/prepared") / self.dataset

    @property
    def manifest(self) -> Path:
        return self.prepared / "manifest.parquet"

    @property
    def dynamic(self) -> Path:
        """Dynamic (2-Hz) annotation curves of the kept tracks (the prepare stage writes them)."""
        return self.prepared / "dynamic.parquet"

    conditions = Path("data/conditions.json")
    #: work derived from raw data (EMOPIA's rendered MIDI), keyed by its inputs; not a DVC out
    cache = Path("data/cache")
    sample_rates = Path("data/sample_rates.json")

    @property
    def embeddings(self) -> Path:
        return Path("data/embeddings") / self.dataset

    @property
    def predictions(self) -> Path:
        return Path("data/predictions") / self.dataset

    @property
    def systems(self) -> Path:
        """Predictions of the seed report's systems (same layout as the probes')."""
        return Path("data/systems") / self.dataset

    reports_root = Path("reports")

    @property
    def reports(self) -> Path:
        """This dataset's report folder: a second dataset never overwrites the first's."""
        return self.reports_root / self.dataset

    @property
    def systems_reports(self) -> Path:
        return self.reports / "systems"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def open_stage_run(params: Params, stage: str, logged: dict, data_hashes: dict[str, str]):
    """The stage's MLflow parent run: ``logged`` params (plus the seed) and lineage hashes."""
    from emofx.tracking import stage_run

    return stage_run(
        stage,
        params.dataset.name,
        {"seed": params.seed, **logged},
        data_hashes=data_hashes,
        tracking_uri=params.mlflow.tracking_uri,
        artifact_root=params.mlflow.artifact_root,
    )


# --- pipeline stages ---------------------------------------------------------------------------
def cmd_synth(params: Params, args: argparse.Namespace) -> None:
    """Generate the synthetic corpus (DEAM layout; with --emopia the EMOPIA MIDI layout).

    When dataset.root is not synth.out (own data) it generates nothing: its output is one note.
    """
    from emofx.datasets.synth import generate_corpus, write_emopia_layout, write_placeholder

    s = params.synth
    started = time.perf_counter()
    if args.emopia:
        clips = write_emopia_layout(
            s.emopia.out,
            n_clips=s.emopia.n_clips,
            seed=params.seed,
            clip_seconds=s.emopia.clip_seconds,
        )
        console.print(f"synthetic EMOPIA corpus: {len(clips)} MIDI clips in {s.emopia.out}")
        return
    if Path(params.dataset.root).resolve() != s.out.resolve():
        note = write_placeholder(s.out, params.dataset.root)
        console.print(f"synth: dataset.root is {params.dataset.root}, no corpus generated ({note})")
        return
    cues = generate_corpus(
        s.out,
        n_tracks=s.n_tracks,
        clip_seconds=s.clip_seconds,
        seed=params.seed,
        sample_rate=s.sample_rate,
        workers=s.workers,
        overwrite=True,
    )
    elapsed = time.perf_counter() - started
    console.print(f"synthetic corpus: {len(cues)} tracks in {s.out} ({elapsed:.1f} s)")


def cmd_prepare(params: Params, args: argparse.Namespace) -> None:
    """Manifest, group-disjoint split, rejected.csv and the decoded-audio cache."""
    import mlflow

    from emofx.data_versioning import dataset_hash
    from emofx.prepare import prepare

    paths = ProjectPaths(params.dataset.name)
    rates = read_sample_rates(params)
    data_hash = dataset_hash(params.dataset.root)
    with open_stage_run(
        params,
        "prepare",
        {"dataset": params.section("dataset"), "sample_rates": rates},
        {"raw": data_hash},
    ):
        manifest = prepare(
            params.dataset,
            paths.prepared,
            rates,
            params.seed,
            data_hash=data_hash,
            cache_dir=ProjectPaths.cache,
        )
        mlflow.log_input(
            mlflow.data.from_pandas(
                manifest,
                source=str(params.dataset.root),
                name=params.dataset.name,
                digest=data_hash,
            ),
            context="prepare",
        )
        counts = manifest["split"].value_counts().to_dict()
        mlflow.log_metrics({f"n_tracks_{k}": v for k, v in counts.items()})
        for name in ("manifest.parquet", "rejected.csv", "warnings.csv"):
            mlflow.log_artifact(str(paths.prepared / name), "prepare")


def cmd_rates(params: Params, args: argparse.Namespace) -> None:
    """The working sample rate of each encoder in embed.encoders → data/sample_rates.json."""
    import json

    from emofx.embed.runner import encoder_sample_rate

    by_encoder = {
        name: encoder_sample_rate(params.embed.config_path(name)) for name in params.embed.encoders
    }
    resolved = {"rates": sorted(set(by_encoder.values())), "encoders": by_encoder}
    ProjectPaths.sample_rates.parent.mkdir(parents=True, exist_ok=True)
    ProjectPaths.sample_rates.write_text(json.dumps(resolved, indent=2) + "\n")
    console.print(
        f"sample rates → {ProjectPaths.sample_rates}: "
        + ", ".join(f"{name} {rate} Hz" for name, rate in by_encoder.items())
    )


def read_sample_rates(params: Params) -> list[int]:
    """The rates the prepare stage decodes at (written by ``emofx rates`` for embed.encoders).

    A separate file rather than reading the encoder configs here: dvc.yaml's prepare stage then
    depends on the rates alone, so editing an encoder's batch size (or a probe config) does not
    re-decode every track.
    """
    import json

    path = ProjectPaths.sample_rates
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `emofx rates` first (`dvc repro` does)")
    resolved = json.loads(path.read_text())
    missing = sorted(set(params.embed.encoders) - set(resolved["encoders"]))
    if missing:
        raise ValueError(f"{path} has no sample rate for encoder(s) {missing}: rerun `emofx rates`")
    return sorted({int(resolved["encoders"][name]) for name in params.embed.encoders})


def cmd_conditions(params: Params, args: argparse.Namespace) -> None:
    """Resolve the FX grid of params.yaml into data/conditions.json."""
    from emofx.fx.conditions import build_conditions, save_conditions

    conditions = build_conditions(params.fx)
    save_conditions(conditions, ProjectPaths.conditions)
    console.print(
        f"{len(conditions)} conditions → {ProjectPaths.conditions}: "
        + ", ".join(c.id for c in conditions)
    )


def cmd_embed(params: Params, args: argparse.Namespace) -> None:
    """Embed every (track, condition) pair with each encoder (resumable, skipped if unchanged)."""
    import mlflow
    import pandas as pd

    from emofx.embed.listening import log_audition, materialise_rendered
    from emofx.embed.runner import EncoderConfig, embed_dataset, encoder_sample_rate
    from emofx.embed.store import StoreFormat
    from emofx.fx.conditions import load_conditions
    from emofx.fx.render import unrenderable
    from emofx.tracking import is_rank_zero, nested_run

    paths = ProjectPaths(params.dataset.name)
    manifest = pd.read_parquet(paths.manifest)
    conditions = load_conditions(ProjectPaths.conditions)
    encoders = args.encoder or params.embed.encoders
    data_hash = file_digest(paths.manifest)
    with open_stage_run(
        params,
        "embed",
        {
            "embed": params.section("embed"),
            "audition": params.section("fx")["audition"],
        },
        {"manifest": data_hash},
    ):
        for name in encoders:
            config = EncoderConfig.from_yaml(params.embed.config_path(name))
            with nested_run(f"embed/{name}", {"emofx.encoder": name}) as run:
                result = embed_dataset(
                    config,
                    manifest,
                    paths.prepared,
                    conditions,
                    paths.embeddings / name,
                    seed=params.seed,
                    data_hash=data_hash,
                    with_frames=_frame_job(params, name, manifest, conditions),
                    store_format=StoreFormat.of(params.embed.dtype, params.embed.layers),
                )
                if run is not None:  # None in a DDP worker process: rank 0 records the run
                    mlflow.log_params({"config." + k: v for k, v in _flat(config.model).items()})
                    mlflow.log_dict(result.store.meta(), "meta.json")
                    _log_embed_result(result, name)
            if result.frames is not None:
                _log_frames(params, name, result.frames)
        # audition excerpts once per project, with the first encoder of params.yaml
        if is_rank_zero() and params.embed.encoders[0] in encoders:
            rate = encoder_sample_rate(params.embed.config_path(params.embed.encoders[0]))
            skipped = unrenderable(conditions, rate)  # e.g. an eq band above this Nyquist
            conditions = [c for c in conditions if c.id not in skipped]
            audition = params.fx.audition
            n = log_audition(conditions, manifest, paths.prepared, rate, audition, params.seed)
            console.print(f"audition: {n} excerpts/spectrograms logged to MLflow ({rate} Hz)")
            if audition.materialise:
                out = Path("data/rendered") / params.dataset.name / str(rate)
                n = materialise_rendered(conditions, manifest, paths.prepared, rate, out)
                console.print(f"materialised {n} rendered files under {out}")


def _log_embed_result(result, name: str) -> None:
    """Metrics of one embed run on the active MLflow run, and a line on the console."""
    import mlflow

    mlflow.log_metrics(
        {"pairs": result.n_pairs, "seconds": result.seconds, "skipped": int(result.skipped)}
    )
    if not result.skipped and result.audio_seconds:
        mlflow.log_metric("audio_seconds_per_second", result.audio_seconds / result.seconds)
    state = "unchanged, skipped" if result.skipped else f"{result.seconds:.1f} s"
    console.print(f"embed {name}: {result.n_pairs} (track, condition) pairs ({state})")


def _frame_job(params: Params, name: str, manifest, conditions):
    """The frame-level store (``<encoder>/frames``) of the dynamically annotated tracks, written
    by the same pass as the pooled store; None when frames are off or no track has a curve."""
    from emofx.embed.frames import FrameSpec, dynamic_tracks, frame_conditions
    from emofx.embed.runner import FrameJob
    from emofx.embed.store import StoreFormat

    f = params.embed.frames
    if not f.enabled:
        return None
    tracks = dynamic_tracks(manifest)
    if tracks.empty:
        console.print(f"embed {name} frames: no track has a dynamic annotation, nothing to do")
        return None
    layers = f.layers
    if layers == "probe":  # the layer probe.layer names; a sweep ("best") or an index: all
        layers = (
            [params.probe.layer]
            if isinstance(params.probe.layer, str) and params.probe.layer != "best"
            else "all"
        )
    return FrameJob(
        FrameSpec(f.window_s, f.hop_s, params.dataset.offset_s),
        tracks,
        frame_conditions(conditions, f.conditions),
        ProjectPaths(params.dataset.name).embeddings / name / "frames",
        StoreFormat.of(f.dtype, layers),
    )


def _log_frames(params: Params, name: str, result) -> None:
    """The frame store's MLflow run (its own nested run, as before the stores shared a pass)."""
    import mlflow

    from emofx.tracking import nested_run

    with nested_run(f"embed/{name}/frames", {"emofx.encoder": name}) as run:
        if run is not None:
            f = params.embed.frames
            spec = {"window_s": f.window_s, "hop_s": f.hop_s, "offset_s": params.dataset.offset_s}
            mlflow.log_params({f"frames.{k}": v for k, v in spec.items()})
            _log_embed_result(result, f"{name} frames")


def cmd_probe(params: Params, args: argparse.Namespace) -> None:
    """Fit probes on clean train, choose on val, predict every condition."""
    import pandas as pd

    from emofx.probes.metrics import summary_line
    from emofx.probes.run import run_probes

    paths = ProjectPaths(params.dataset.name)
    manifest = pd.read_parquet(paths.manifest)
    with open_stage_run(
        params,
        "probe",
        {
            "probe": params.section("probe"),
            "dataset": params.dataset.name,
            "evaluation": params.section("evaluation"),
        },
        {"manifest": file_digest(paths.manifest)},
    ):
        results = run_probes(
            params.probe,
            manifest,
            paths.embeddings,
            params.embed.encoders,
            paths.predictions,
            params.seed,
            dataset=params.dataset.name,
            metrics_path=paths.reports / "probe_metrics.json",
            dvc_stage="probe",
            dynamic_curves=pd.read_parquet(paths.dynamic) if paths.dynamic.is_file() else None,
            evaluation=params.evaluation,
        )
    for key, metrics in results.items():
        console.print(f"{key} {summary_line(metrics)}")


def cmd_systems(params: Params, args: argparse.Namespace) -> None:
    """Seed report systems: feature selection + classical grid, spectrogram nets, PANNs + MLP."""
    import mlflow
    import pandas as pd

    from emofx.systems.run import results_table, run_systems

    paths = ProjectPaths(params.dataset.name)
    out = paths.systems_reports
    with open_stage_run(
        params,
        "systems",
        {"systems": params.section("systems"), "evaluation": params.section("evaluation")},
        {"manifest": file_digest(paths.manifest)},
    ):
        metrics = run_systems(
            params.systems,
            manifest=pd.read_parquet(paths.manifest),
            prepared_dir=paths.prepared,
            conditions_path=ProjectPaths.conditions,
            embeddings_root=paths.embeddings,
            predictions_root=paths.systems,
            figures_dir=out / "figures",
            seed=params.seed,
            evaluation=params.evaluation,
        )
        out.mkdir(parents=True, exist_ok=True)
        table = results_table(metrics)  # header only when no system ran
        table.to_csv(out / "results.csv", index=False)
        mlflow.log_artifacts(str(out), "systems")
    if len(table):
        best = table[table["selected_on_val"]]
        console.print(f"systems: {len(table)} models (table: {out / 'results.csv'}); best on val:")
        for row in best.itertuples():
            console.print(
                f"  {row.system}/{row.model}: test R² valence {row.R2_valence:.3f}, "
                f"arousal {row.R2_arousal:.3f}"
            )
    else:
        console.print(
            "systems: none ran (systems.*.enabled: false, or auto without valence/arousal "
            "annotations or the stores the systems read; `emofx check` says which)"
        )


def cmd_analyze(params: Params, args: argparse.Namespace) -> None:
    """FX impact on the test split, statistics, figures and reports/index.html."""
    from emofx.analysis.landing import write_landing
    from emofx.analysis.run import log_to_mlflow, run_analysis

    paths = ProjectPaths(params.dataset.name)
    with open_stage_run(
        params,
        "analyze",
        {"analysis": params.section("analysis"), "evaluation": params.section("evaluation")},
        {"manifest": file_digest(paths.manifest)},
    ):
        result = run_analysis(
            manifest_path=paths.manifest,
            conditions_path=ProjectPaths.conditions,
            predictions_root=[paths.predictions, paths.systems],
            embeddings_root=paths.embeddings,
            out_dir=paths.reports,
            params=params.analysis,
            seed=params.seed,
            encoders=params.embed.encoders,
            evaluation=params.evaluation,
        )
        log_to_mlflow(result)
    landing = write_landing(ProjectPaths.reports_root)
    console.print(f"report: {(paths.reports / 'index.html').resolve()} (all datasets: {landing})")


# --- tools -------------------------------------------------------------------------------------
def cmd_check(params: Params, args: argparse.Namespace) -> None:
    """Validate params.yaml and the paths it names, then exit (says what ``auto`` resolved to)."""
    from emofx.systems.config import SYSTEM_PHASES
    from emofx.tracking import check_tracking

    check_tracking(params.mlflow.tracking_uri)  # a tracking server must answer within seconds

    systems = [p for p in SYSTEM_PHASES if getattr(params.systems, p).enabled]
    console.print(
        f"{args.params} is valid: dataset {params.dataset.name} (format {params.dataset.format}): "
        f"probe tasks: {', '.join(params.probe.tasks)}; systems: {', '.join(systems) or 'none'}"
    )


def cmd_fx_list(args: argparse.Namespace) -> None:
    from emofx.fx.listing import effects_table

    print(effects_table(sample_rate=args.sample_rate))


def cmd_fx_render(args: argparse.Namespace) -> None:
    import math

    from emofx.fx.render import render_file

    fx = load_params(args.params).fx if Path(args.params).is_file() else None
    rendered = render_file(
        args.condition, Path(args.input), Path(args.output), params=fx, force=args.force
    )
    change = rendered.loudness_change_lu
    loudness = (
        f"loudness {change:+.1f} LU"
        if math.isfinite(change)
        else "silent input (loudness undefined)"
        if not math.isfinite(rendered.loudness_in_lufs)
        else "silent output (loudness undefined)"
    )
    console.print(f"{args.condition}: {args.input} → {args.output} ({loudness})")


def cmd_tag(args: argparse.Namespace) -> None:
    from emofx.tagging import tag_command

    print(tag_command(Path(args.audio), args.checkpoint, args.weights, args.top_k))


def cmd_preset(args: argparse.Namespace) -> None:
    from emofx.presets import apply_preset

    keys = apply_preset(args.name, Path(args.params))
    console.print(f"{args.params}: preset {args.name!r} set {len(keys)} keys: {', '.join(keys)}")
    console.print("next: review `git diff params.yaml`, then `dvc repro`")


def cmd_tune(args: argparse.Namespace) -> None:
    """Join the open Optuna studies of probe.tune.storage (an RDB URL) as one more worker."""
    from emofx.errors import EmofxError
    from emofx.probes.tune_worker import work_on_studies
    from emofx.tracking import configure

    params = load_params(args.params, check_paths=False)
    storage = args.storage or params.probe.tune.storage
    if "://" not in storage:
        raise EmofxError(
            f"tune --worker needs an RDB storage URL (probe.tune.storage is {storage})"
        )
    configure(params.mlflow.tracking_uri)
    n = work_on_studies(
        storage, heartbeat_s=params.probe.tune.heartbeat_s, wait_s=args.wait_s, say=console.print
    )
    console.print(f"tune worker {os.getpid()}: finished {n} trials, no open study left")


def cmd_data_add(args: argparse.Namespace) -> None:
    from emofx.data_versioning import data_add

    digest = data_add(args.dataset, Path(args.path), Path("."))
    console.print(f"{args.dataset}: {args.path} under DVC control (hash {digest})")
    console.print(
        "next: commit the new .dvc file and .gitignore (git add -A && git commit); point "
        "dataset.root in params.yaml at the tracked folder; `dvc push` backs it up"
    )


def _flat(d: dict, prefix: str = "") -> dict[str, str]:
    from emofx.tracking import flatten

    return flatten(d, prefix)


STAGES: dict[str, Callable[[Params, argparse.Namespace], None]] = {
    "synth": cmd_synth,
    "prepare": cmd_prepare,
    "rates": cmd_rates,
    "conditions": cmd_conditions,
    "embed": cmd_embed,
    "probe": cmd_probe,
    "systems": cmd_systems,
    "analyze": cmd_analyze,
    "check": cmd_check,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emofx", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (emofx --debug …)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in STAGES.items():
        p = sub.add_parser(name, help=(func.__doc__ or f"the {name} stage").strip().splitlines()[0])
        p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
        if name == "synth":
            p.add_argument("--emopia", action="store_true", help="write the EMOPIA-layout corpus")
        if name == "embed":
            p.add_argument("--encoder", action="append", help="only this encoder (repeatable)")
        p.set_defaults(stage=func)
    fx = sub.add_parser("fx", help="list effects or render one condition to a file").add_subparsers(
        dest="fx_command", required=True
    )
    fx_list = fx.add_parser("list", help="every effect with its level → parameter table")
    fx_list.add_argument("--sample-rate", type=int, help="flag levels that cannot render here")
    fx_list.set_defaults(tool=cmd_fx_list)
    render = fx.add_parser("render", help="render IN through a condition into OUT")
    render.add_argument(
        "--condition", required=True, help="e.g. distortion@7, reverb@3+lufs, chain:u2"
    )
    render.add_argument("--params", default="params.yaml", help="for user chains and plugins")
    render.add_argument(
        "--force", action="store_true", help="allow OUT to be IN (render the file in place)"
    )
    render.add_argument("input")
    render.add_argument("output")
    render.set_defaults(tool=cmd_fx_render)
    tag = sub.add_parser("tag", help="top Musicnn tags of an audio file (sanity check)")
    tag.add_argument("audio")
    tag.add_argument("--checkpoint", default="mtg_jamendo", choices=["mtg_jamendo", "mtat"])
    tag.add_argument("--weights", default=None, help="checkpoint file or folder (else lookup)")
    tag.add_argument("--top-k", type=int, default=10)
    tag.set_defaults(tool=cmd_tag)
    preset = sub.add_parser(
        "preset", help="merge a protocol preset (params/<name>.yaml) into params"
    )
    preset.add_argument("name", help="e.g. paper (params/paper.yaml), or a YAML file")
    preset.add_argument("--params", default="params.yaml", help="params file to update")
    preset.set_defaults(tool=cmd_preset)
    tune = sub.add_parser("tune", help="join the probe stage's Optuna studies from here")
    tune.add_argument("--worker", action="store_true", required=True, help="run as a worker")
    tune.add_argument("--params", default="params.yaml", help="for mlflow.* and probe.tune.*")
    tune.add_argument("--storage", help="study storage URL (default: probe.tune.storage)")
    tune.add_argument(
        "--wait-s", type=float, default=60.0, help="exit after this long without an open study"
    )
    tune.set_defaults(tool=cmd_tune)
    data = sub.add_parser("data", help="dataset versioning").add_subparsers(
        dest="data_command", required=True
    )
    add = data.add_parser("add", help="put a raw dataset folder under DVC control")
    add.add_argument("dataset")
    add.add_argument("path")
    add.set_defaults(tool=cmd_data_add)
    return parser


def quiet_libraries() -> None:
    """Keep the console for emofx's own progress: no Lightning tips, no known-benign warnings."""
    # Lightning sets its package loggers to INFO when imported; its banners ("GPU available",
    # "💡 Tip: … litlogger") go through the rank_zero child loggers, which keep a level set here.
    for name in (
        "lightning.pytorch",
        "lightning.fabric",
        "lightning.pytorch.utilities.rank_zero",
        "lightning.fabric.utilities.rank_zero",
        "mlflow.store.db.utils",
        "alembic",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (
        "Couldn't infer the batch indices",  # our batches are pre-built (batch_size=None)
        ".*LeafSpec.*is deprecated",
        "The specified dataset source can be interpreted in multiple ways",
        "Hint: Inferred schema contains integer column",
    ):
        warnings.filterwarnings("ignore", message=message)


def offline_defaults() -> None:
    """No telemetry unless the user asked for it: MLflow's (and the Hugging Face Hub's) are off.

    MLflow decides when it is imported, so its client is re-initialised here with the variable set.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from mlflow.telemetry.client import set_telemetry_client

    set_telemetry_client()


def main(argv: list[str] | None = None) -> int:
    """Run one command; an expected error is one ``emofx: error:`` line (exit 2 for params)."""
    from mlflow.exceptions import MlflowException

    from emofx.errors import EmofxError

    args = build_parser().parse_args(argv)
    die_with_dvc()  # killing `dvc repro` ends its stage too
    offline_defaults()
    quiet_libraries()
    try:
        if hasattr(args, "stage"):
            params = load_params(args.params, check_paths=args.stage is not cmd_synth)
            args.stage(params, args)
        else:
            args.tool(args)
    except (EmofxError, MlflowException, OSError, ValueError, KeyError, TypeError) as exc:
        if args.debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"emofx: error: {line}", file=sys.stderr)
        return 2 if isinstance(exc, ParamsError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
