"""`python -m model <step>`: a thin CLI over the pipeline steps.

Exit codes: 0 success (for `package`/`pipeline`/`train-job`: the gate passed and a bundle was written),
1 the gate failed, 2 bad input (flags, config, environment, data, bundle) with a message naming the bad
thing, 3 (`train-job` only) an upload or download failed or the worker crashed: the Job retries it,
unlike 1 and 2, which are final.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Only the settings here: TensorFlow, pandas and the steps load after the arguments parse, so --help and
# a usage error answer at once.
from model.config import PRESETS, ConfigError, PipelineConfig, load_config

STEPS = ("data", "pretrain", "train", "optimize", "evaluate", "package", "pipeline")
EXAMPLES = """examples:
  python -m model pipeline --preset tiny --out /tmp/run      the whole run on a tiny catalog (~2 min)
  python -m model pipeline --out artifacts                   the default run (what `make demo` does)
  python -m model pipeline --config model/configs/crowdflower.yaml --out /tmp/cf
  python -m model pipeline --baseline artifacts/bundles/<id>   compare with the bundle in production
  python -m model train --out /tmp/run                       one step; it reads /tmp/run/work/
  python -m model tune --preset tiny --out /tmp/tune         hyperparameter search -> tune/best.yaml

exit codes: 0 ok, 1 quality gate failed, 2 bad input, 3 storage (train-job)."""
EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_STORAGE_FAILED = 1, 2, 3


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model",
        description="Train, optimize, evaluate and package a Transformer search ranker.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML file overriding the preset (see model/config.py)")
    common.add_argument(
        "--preset", choices=sorted(PRESETS), default=None, help="starting settings (default: default)"
    )
    common.add_argument(
        "--out", type=Path, default=Path("artifacts"), help="output directory (default: artifacts)"
    )
    common.add_argument("--no-progress", action="store_true", help="hide progress bars")
    common.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's and the converter's own messages"
    )
    sub = p.add_subparsers(dest="step", required=True, metavar="STEP")
    helps = {
        "data": "load or generate the data set and split it by query",
        "pretrain": "fit the tokenizer and pre-train the encoder on the catalog (masked words; cached)",
        "train": "train the fp32 Transformer ranker (and its distillation teacher when enabled)",
        "optimize": "prune, cluster and export LiteRT variants",
        "evaluate": "measure quality, size and latency of every variant",
        "package": "apply the quality gate, write the bundle and the report",
        "pipeline": "all of the above, in order",
    }
    tune_help = "search hyperparameters (tune: settings) and write tune/best.yaml for `pipeline --config`"
    sub.add_parser("tune", parents=[common], help=tune_help, description=tune_help)
    job_help = (
        "one worker of the Kubernetes training Job (settings from RANKSHIP_* env; see model/train_job.py)"
    )
    job = sub.add_parser("train-job", help=job_help, description=job_help)
    job.add_argument("--no-progress", action="store_true", help="hide progress bars")
    job.add_argument("--verbose", action="store_true", help="show TensorFlow's own messages")
    for step in STEPS:
        sp = sub.add_parser(step, parents=[common], help=helps[step], description=helps[step])
        if step in ("evaluate", "pipeline"):
            sp.add_argument(
                "--baseline",
                type=Path,
                help="bundle directory of the model in production (for change bounds)",
            )
    return p


def _config(args: argparse.Namespace) -> PipelineConfig:
    if args.config is not None and args.preset is not None:
        # The file may name its own preset; an explicit flag on top would be ambiguous.
        cfg = load_config(args.config, preset=args.preset)
    else:
        cfg = load_config(args.config, preset=args.preset or "default")
    return cfg


def run(args: argparse.Namespace) -> int:
    from model import pipeline as pl
    from model import steps
    from model.release.package import step_package

    cfg = _config(args)
    ws = pl.Workspace(args.out)
    progress = not args.no_progress
    if args.step == "tune":
        from model.tuning.search import tune

        tuned = tune(cfg, ws, progress)
        best = tuned.study.best_trial
        print(f"tune: best valid NDCG@10 {best.value:.4f} (trial {best.number}) -> {tuned.best_config}")
        print(f"tune: report {tuned.report}")
        return 0
    baseline = getattr(args, "baseline", None)
    timer = pl.Timer()
    if args.step in ("data", "pipeline"):
        summary = timer.run("data", steps.step_data, cfg, ws)
        print(f"data: {summary}")
    if args.step in ("pretrain", "pipeline"):
        pre = timer.run("pretrain", steps.step_pretrain, cfg, ws, progress)
        if pre.get("enabled"):
            cached = " (cached)" if pre.get("cached") else ""
            print(f"pretrain: {pre['sequences']} sequences, masked-word loss {pre['losses']}{cached}")
    if args.step in ("train", "pipeline"):
        history = timer.run("train", steps.step_train, cfg, ws, progress)
        print(f"train: valid NDCG@10 per epoch {[round(x, 4) for x in history['val_ndcg@10']]}")
    if args.step in ("optimize", "pipeline"):
        variants = timer.run("optimize", steps.step_optimize, cfg, ws, progress)
        print(f"optimize: {len(variants)} variants in {ws.variants_dir}")
    if args.step in ("evaluate", "pipeline"):
        timer.run("evaluate", steps.step_evaluate, cfg, ws, baseline, dict(timer.seconds), progress)
        print(f"evaluate: {ws.record}")
    if args.step in ("package", "pipeline"):
        result = step_package(cfg, ws, dict(timer.seconds))
        print(f"report: {result.report}")
        from model.release.runs import record_run

        if record_run(cfg, result.record, ws.report, args.out):
            print("run history: recorded (`make runs` compares the runs)")
        if not result.passed:
            print("gate: FAILED — no variant passed every bound; see the report", file=sys.stderr)
            return EXIT_GATE_FAILED
        assert result.bundle is not None
        print(f"gate: passed — shipped {result.record.shipped} as bundle {result.bundle.path}")
    return 0


def _train_job(args: argparse.Namespace) -> int:
    from model.data.schema import DataError
    from model.release.bundle import BundleError
    from model.release.upload import UploadError
    from model.text.tokenizer import TokenizerError
    from model.train_job import run_job

    try:
        return run_job(os.environ, progress=not args.no_progress)
    except (ConfigError, DataError, BundleError, TokenizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UploadError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_STORAGE_FAILED
    except Exception:
        # Uncaught, Python would exit 1, which the Job reads as "gate failed" (final): retry instead.
        traceback.print_exc()
        return EXIT_STORAGE_FAILED


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from model import console

    console.setup(args.verbose)
    from model.data.schema import DataError
    from model.pipeline import StepOrderError
    from model.preflight import check_inputs
    from model.release.bundle import BundleError
    from model.text.tokenizer import TokenizerError

    if args.step == "train-job":
        return _train_job(args)
    for flag in ("config", "baseline"):
        path = getattr(args, flag, None)
        if path is not None and not path.exists():
            print(f"error: --{flag} {path}: no such file or directory", file=sys.stderr)
            return EXIT_BAD_INPUT
    start = time.perf_counter()
    try:
        # Every input is checked before the first step starts: a bad --baseline must not cost a training.
        check_inputs(args.step, _config(args), args.out, getattr(args, "baseline", None))
        if args.step not in ("data", "package"):
            console.import_tensorflow()
        code = run(args)
    except (ConfigError, DataError, BundleError, StepOrderError, TokenizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"done in {time.perf_counter() - start:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
