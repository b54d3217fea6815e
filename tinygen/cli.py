"""The ``tinygen`` command line.

    tinygen train MODEL --data DATASET [--epochs N] [--batch-size B] [--lr LR] [--seed S]
                  [--device D] [--data-dir PATH] [--resume] [--overwrite] [--threads T (default 1)]
                  [--no-progress] [--set KEY=VALUE ...] [--FAMILY-OPTION VALUE ...] --out DIR
    tinygen sample DIR --n N [--label K] [--seed S] [--device D] --out FILE      (.npy or .png)
    tinygen eval DIR            prints the held-out metrics and writes DIR/metrics.json
    tinygen info                versions, backends, devices, kernel status, models, data sets
    tinygen bench [ARGS ...]    runs the benchmark suite (python -m benchmarks ARGS)

Family options come from the recipe: every key of ``recipe.defaults(DATASET)`` that is not one
of epochs/batch_size/lr/seed becomes a flag (``beta`` → ``--beta``, ``noise_level`` →
``--noise-level``), parsed like its default (numbers, ``true``/``false``, comma-separated lists);
``--set key=value`` does the same for any key. ``tinygen train MODEL --data DATASET --help``
lists them with their defaults.

Bad input (unknown model or data set, a missing or corrupt checkpoint, a non-positive epoch
count, an unwritable --out, ...) exits with a non-zero status and one line on stderr, and
never touches an existing checkpoint. ``TINYGEN_DEBUG=1`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile

__all__ = ["main"]

CORE_KEYS = ("epochs", "batch_size", "lr", "seed")
DEFAULT_THREADS = 1
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f")


class CLIError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) raised as CLIError."""

    def error(self, message):
        raise CLIError(message)


# ---------------------------------------------------------------------------------------------
# values of family options
# ---------------------------------------------------------------------------------------------

def _literal(text: str):
    t = text.strip()
    low = t.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if "," in t:
        return [_literal(p) for p in t.split(",") if p.strip()]
    return t


def _coerce(key: str, text: str, default):
    """Parse ``text`` like the recipe's default for ``key``."""
    flag = "--" + key.replace("_", "-")
    try:
        if isinstance(default, bool):
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (list, tuple)):
            parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
            if not parts:
                raise ValueError
            kind = type(default[0]) if len(default) else None
            if kind is int:
                return [int(p) for p in parts]
            if kind is float:
                return [float(p) for p in parts]
            return [_literal(p) for p in parts]
        if default is None:
            return _literal(text)
        return text
    except ValueError:
        want = ("true or false" if isinstance(default, bool) else "a whole number" if isinstance(default, int)
                else "a number" if isinstance(default, float)
                else "a comma-separated list" if isinstance(default, (list, tuple)) else "a value")
        raise CLIError(f"{flag} expects {want}, got {text!r}") from None


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# the parsers
# ---------------------------------------------------------------------------------------------

def _base_parser() -> _Parser:
    p = _Parser(prog="tinygen", description="Generative models from first principles: train, sample, "
                "evaluate, inspect.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", add_help=False, help="train a model on a data set",
                       description="Train MODEL on DATASET; writes DIR/checkpoint, metrics.json, "
                       "history.csv, samples.png and loss.png.")
    _add_train_core(t)

    s = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write N samples of the run in DIR to FILE (.npy or .png), in the "
                       "data's own range and layout.")
    s.add_argument("run", metavar="DIR", help="the run folder (holds checkpoint)")
    s.add_argument("--n", type=int, required=True, help="number of samples")
    s.add_argument("--label", type=int, default=None, help="class label (conditional models)")
    s.add_argument("--seed", type=int, default=None, help="random seed (default: the run's)")
    s.add_argument("--device", default=None, help="cpu or cuda")
    s.add_argument("--data-dir", default=None, help="folder of file-based data sets (default: the run's)")
    _add_threads(s)
    s.add_argument("--out", required=True, metavar="FILE", help="output .npy or .png")

    e = sub.add_parser("eval", help="evaluate a trained run on held-out data",
                       description="Print the run's held-out metrics and write DIR/metrics.json.")
    e.add_argument("run", metavar="DIR")
    e.add_argument("--device", default=None)
    e.add_argument("--data-dir", default=None)
    _add_threads(e)

    sub.add_parser("info", help="versions, backends, devices and kernel status")
    b = sub.add_parser("bench", help="run the benchmark suite (python -m benchmarks)", add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _add_threads(p):
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help="CPU threads for BLAS and the Numba kernels (default: 1; these models are small, "
                   "and on a busy machine extra threads make every step many times slower; 0 keeps the "
                   "libraries' own choice)")


def _add_train_core(t):
    from .train import recipes
    t.add_argument("-h", "--help", action="store_true", help="show this help (with MODEL and --data: "
                   "the family's options too) and exit")
    t.add_argument("model", metavar="MODEL", nargs="?", help=f"one of: {', '.join(recipes.available())}")
    t.add_argument("--data", metavar="DATASET", help="digits, mnist, fashion-mnist, ring8, grid25, moons, swissroll")
    t.add_argument("--out", metavar="DIR", help="run folder (created if needed)")
    t.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the recipe's)")
    t.add_argument("--batch-size", type=int, default=None, help="batch size (default: the recipe's)")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: the recipe's)")
    t.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    t.add_argument("--device", default=None, help="cpu or cuda (default: TINYGEN_DEVICE or cpu)")
    t.add_argument("--data-dir", default=None, help="folder of the MNIST/Fashion-MNIST IDX files")
    t.add_argument("--resume", action="store_true", help="continue DIR/checkpoint where it stopped")
    t.add_argument("--overwrite", action="store_true", help="start afresh even if DIR holds a checkpoint")
    _add_threads(t)
    t.add_argument("--no-progress", action="store_true", help="plain per-epoch lines instead of a progress bar")
    t.add_argument("--quiet", action="store_true", help="print only the final metrics")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set any recipe option (repeatable)")


def _family_parser(model, dataset, defaults) -> _Parser:
    """Core train options plus one flag per recipe option, for parsing and for --help."""
    from .train import recipes
    p = _Parser(prog=f"tinygen train {model}", add_help=False,
                description=f"Train {model} on {dataset}.")
    _add_train_core(p)
    help_texts = {}
    try:
        help_texts = dict(getattr(recipes.get(model), "option_help", {}) or {})
    except Exception:
        pass
    g = p.add_argument_group(f"{model} options on {dataset} (defaults shown)")
    taken = {a.dest for a in p._actions}
    for key, default in defaults.items():
        if key in CORE_KEYS or key in taken:
            continue
        text = help_texts.get(key, "")
        g.add_argument("--" + key.replace("_", "-"), dest="opt__" + key, default=None, metavar="VALUE",
                       help=f"{text} (default: {_show(default)})".strip())
    for key in CORE_KEYS:
        for a in p._actions:
            if a.dest == key:
                a.help = f"{a.help.split(' (default')[0]} (default: {_show(defaults.get(key))})"
    return p


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------

def _set_threads(n):
    """Limit tinygen's workers, BLAS and Numba to ``n`` threads (0: leave the defaults)."""
    if n is None or n == 0:
        return
    if n < 0:
        raise CLIError(f"--threads must be >= 0, got {n}")
    from .parallel import set_num_threads
    set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        os.environ.setdefault("OMP_NUM_THREADS", str(n))
    try:
        from .kernels import numba_available
        if numba_available():
            import numba
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


def _cmd_train(argv) -> int:
    from .train import recipes
    from .train.trainer import Trainer
    from .data import DATASETS

    pre = _Parser(prog="tinygen train", add_help=False)
    _add_train_core(pre)
    ns, rest = pre.parse_known_args(argv)
    if ns.model is None:
        if ns.help:
            _core_train_parser().print_help()
            return 0
        raise CLIError(f"train needs a MODEL: one of {', '.join(recipes.available())}")
    if ns.model not in recipes.REGISTRY:
        raise CLIError(f"unknown model {ns.model!r}; choose one of: {', '.join(recipes.available())}")
    try:
        recipe = recipes.get(ns.model)
    except (ImportError, AttributeError) as exc:
        raise CLIError(f"model {ns.model!r} is not available yet ({type(exc).__name__}: {exc})") from None
    data = ns.data
    if data is not None:
        data = data.lower().replace("_", "-")
        if data not in DATASETS:
            raise CLIError(f"unknown data set {ns.data!r}; choose one of: {', '.join(DATASETS)}")
        if data not in recipe.datasets:
            raise CLIError(f"{ns.model} does not train on {data}; it trains on: {', '.join(recipe.datasets)}")
    defaults = dict(recipe.defaults(data or recipe.datasets[0]))
    parser = _family_parser(ns.model, data or recipe.datasets[0], defaults)
    if ns.help:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    if data is None:
        raise CLIError("train needs --data DATASET")
    if not args.out:
        raise CLIError("train needs --out DIR")

    config = {}
    for key in CORE_KEYS:
        v = getattr(args, key)
        if v is not None:
            config[key] = v
    for item in args.set:
        if "=" not in item:
            raise CLIError(f"--set expects KEY=VALUE, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in defaults:
            raise CLIError(f"{ns.model} has no option {key!r}; its options are: {', '.join(sorted(defaults))}")
        config[key] = _coerce(key, text, defaults[key])
    for key, default in defaults.items():
        v = getattr(args, "opt__" + key, None)
        if v is not None:
            config[key] = _coerce(key, v, default)
    if "epochs" in config and config["epochs"] < 1:
        raise CLIError(f"--epochs must be positive, got {config['epochs']}")
    if "batch_size" in config and config["batch_size"] < 1:
        raise CLIError(f"--batch-size must be positive, got {config['batch_size']}")
    if "lr" in config and not config["lr"] > 0:
        raise CLIError(f"--lr must be positive, got {config['lr']}")
    if args.resume and args.overwrite:
        raise CLIError("--resume and --overwrite exclude each other")
    _set_threads(args.threads)

    trainer = Trainer(ns.model, data, args.out, config, data_dir=args.data_dir, device=args.device,
                      progress=False if args.no_progress else None, quiet=args.quiet,
                      overwrite=args.overwrite)
    metrics = trainer.fit(resume=args.resume)
    _print_metrics(metrics)
    if not args.quiet:
        print(f"wrote {os.path.join(args.out, 'checkpoint')}, metrics.json, history.csv, samples.png, loss.png",
              file=sys.stderr)
    return 0


def _core_train_parser():
    p = _Parser(prog="tinygen train", add_help=False,
                description="Train MODEL on DATASET. Give MODEL and --data with --help to see the "
                "family's own options.")
    _add_train_core(p)
    return p


def _print_metrics(metrics) -> None:
    width = max((len(k) for k in metrics), default=0)
    for k, v in metrics.items():
        if isinstance(v, float):
            v = f"{v:.6g}"
        print(f"{k:<{width}}  {v}")


def _cmd_sample(args) -> int:
    from .train.trainer import Trainer
    out = args.out
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".npy", ".png"):
        raise CLIError(f"--out must end in .npy or .png, got {out!r}")
    if args.n < 1:
        raise CLIError(f"--n must be positive, got {args.n}")
    folder = os.path.dirname(os.path.abspath(out))
    _set_threads(args.threads)
    trainer = Trainer.load(args.run, data_dir=args.data_dir, device=args.device, quiet=True)
    labels = None
    if args.label is not None:
        if not getattr(trainer.recipe, "conditional", False):
            raise CLIError(f"{trainer.recipe_name} is not conditional, so --label does not apply")
        k = getattr(trainer.dataset, "num_classes", None)
        if k is not None and not 0 <= args.label < k:
            raise CLIError(f"--label must be in 0..{k - 1} for {trainer.dataset_name}, got {args.label}")
        import numpy as np
        labels = np.full(args.n, args.label, dtype=np.int64)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    x = trainer.sample(args.n, labels=labels, seed=args.seed)
    if ext == ".npy":
        import numpy as np
        fd, tmp = tempfile.mkstemp(prefix=".samples.", suffix=".npy", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, x)
            os.replace(tmp, out)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        from .train import plots
        ds = trainer.dataset
        title = f"{trainer.recipe_name} samples" + ("" if args.label is None else f", label {args.label}")
        if getattr(ds, "is_toy", False):
            plots.save_scatter_2d(x, out, data=ds.x_train[:5000], modes=ds.centers, title=title)
        else:
            plots.save_image_grid(x, out, title=title)
    print(f"wrote {len(x)} samples of shape {tuple(x.shape[1:])} to {out}", file=sys.stderr)
    return 0


def _cmd_eval(args) -> int:
    from .train.trainer import Trainer
    _set_threads(args.threads)
    trainer = Trainer.load(args.run, data_dir=args.data_dir, device=args.device, quiet=True)
    metrics = trainer.evaluate()
    metrics["seconds"] = round(trainer.train_seconds, 3)
    trainer.write_metrics(metrics)
    _print_metrics(metrics)
    return 0


def _version(module):
    try:
        mod = __import__(module)
        return getattr(mod, "__version__", "installed")
    except Exception as exc:
        return f"not available ({type(exc).__name__})"


def _cmd_info(args) -> int:
    import tinygen
    from . import backend
    from .train import recipes
    from .data import DATASETS
    lines = [f"tinygen  {tinygen.__version__}",
             f"python   {platform.python_version()} ({platform.python_implementation()}, {platform.system()} {platform.machine()})",
             f"numpy    {_version('numpy')}",
             f"numba    {_version('numba')}",
             f"cupy     {_version('cupy')}",
             f"cpu      {os.cpu_count()} logical cores"]
    try:
        from threadpoolctl import threadpool_info
        for i in threadpool_info():
            if i.get("user_api") == "blas":
                lines.append(f"blas     {i.get('internal_api')} {i.get('version')}, {i.get('num_threads')} threads")
    except Exception:
        pass
    from .memory import allocator_status
    from .parallel import get_num_threads
    lines.append(f"threads  {get_num_threads()} (tinygen workers; TINYGEN_NUM_THREADS or --threads)")
    mem = allocator_status()
    lines.append(f"malloc   {'tuned: ' if mem['tuned'] else 'default: '}{mem['reason']}")
    lines.append("devices  cpu" + (", cuda" if backend.cuda_available() else ""))
    lines.append(f"default  {backend.get_default_device()}")
    if backend.cuda_available():
        lines.append("cuda     available" + (" (test stand-in)" if backend.is_fake_cuda() else ""))
    else:
        lines.append(f"cuda     unavailable: {backend.cuda_unavailable_reason()}")
    try:
        from . import kernels
        st = kernels.kernel_status() if hasattr(kernels, "kernel_status") else None
    except Exception as exc:
        st = None
        lines.append(f"kernels  unavailable ({type(exc).__name__}: {exc})")
    if st is not None:
        nb = st.get("numba", {})
        lines.append(f"kernels  fused {'on' if st.get('fused_enabled') else 'off'}"
                     + (f" (TINYGEN_KERNELS={st['env']})" if st.get("env") else "")
                     + (f", numba {nb.get('version')}, {nb.get('num_threads')} threads" if nb.get("available")
                        else f", numba unavailable: {nb.get('reason')}"))
        for name, k in st.get("kernels", {}).items():
            compiled = k.get("compiled")
            secs = k.get("compile_seconds")
            state = ("compiled" + (f" in {secs:.2f} s" if secs is not None else "")) if compiled else "not compiled yet"
            lines.append(f"         {name}: {state}")
    lines.append(f"models   {' '.join(recipes.available())}")
    lines.append(f"data     {' '.join(DATASETS)}")
    print("\n".join(lines))
    return 0


def _find_benchmarks():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for root in (os.getcwd(), here):
        if os.path.isfile(os.path.join(root, "benchmarks", "__main__.py")):
            return root
    return None


def _cmd_bench(args) -> int:
    root = _find_benchmarks()
    if root is None:
        print("tinygen: the benchmark suite is not here: `tinygen bench` runs `python -m benchmarks`, which "
              "ships with a source checkout (the benchmarks/ folder beside tinygen/); run it from there",
              file=sys.stderr)
        return 1
    extra = [a for a in args.args if a != "--"]
    return subprocess.call([sys.executable, "-m", "benchmarks", *extra], cwd=root)


# ---------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------

def _run(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        return _cmd_train(argv[1:])
    if argv and argv[0] == "bench":
        ns = argparse.Namespace(args=argv[1:])
        return _cmd_bench(ns)
    parser = _base_parser()
    if not argv:
        raise CLIError("choose a command: train, sample, eval, info, bench (tinygen --help for more)")
    args = parser.parse_args(argv)
    return {"sample": _cmd_sample, "eval": _cmd_eval, "info": _cmd_info}[args.command](args)


def main(argv=None) -> int:
    """Run the command line; returns 0 on success, raises SystemExit with a non-zero code after
    printing one line on stderr on failure."""
    from .train.trainer import TrainingDiverged, TrainingError
    debug = os.environ.get("TINYGEN_DEBUG", "") not in ("", "0")
    try:
        return _run(argv)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("tinygen: interrupted", file=sys.stderr)
        raise SystemExit(130)
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, CLIError):
            code, msg = 2, str(exc)
        elif isinstance(exc, TrainingDiverged):
            code, msg = 3, str(exc)
        elif isinstance(exc, TrainingError):
            code, msg = 1, str(exc)
        elif isinstance(exc, (OSError, ValueError, TypeError)):
            code, msg = 1, (f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.filename
                            else f"{exc}")
        else:
            code, msg = 1, f"{type(exc).__name__}: {exc} (set TINYGEN_DEBUG=1 for the traceback)"
        msg = " ".join(str(msg).split())
        print(f"tinygen: error: {msg}", file=sys.stderr)
        raise SystemExit(code) from None
