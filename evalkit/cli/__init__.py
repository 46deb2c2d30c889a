"""The `evalkit` command line. Errors the user can fix print one line and exit non-zero."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from evalkit.core.errors import EvalkitError, missing_dependency

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="evalkit: evaluate language models on benchmarks, store every sample, compare runs.")

DEFAULT_STORE = "evalkit.db"


def _store_target(store: str) -> str | Path:
    from evalkit.core.store_url import is_postgres

    return store if is_postgres(store) else Path(store)  # Path() would fold a URL's '//'


def _masked(text: str) -> str:
    from evalkit.core.store_url import mask

    return mask(text)


def _split(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


@app.command()
def run(
    model: str = typer.Option(..., "--model", "-m", help="BACKEND:TARGET (hf:PATH, replay:FILE, vllm:PATH, dummy) or an alias (smollm2-135m)."),
    tasks: list[str] = typer.Option(..., "--tasks", "-t", help="Task or group names, comma-separated (see `evalkit tasks`)."),
    limit: Optional[str] = typer.Option(None, "--limit", help="Evaluate only the first N docs of each task, or a fraction of each (0.1)."),
    batch_size: str = typer.Option("8", "--batch-size", help="Prompts per forward pass (hf backend); auto: the largest that fits, halving on out-of-memory."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results.json and samples/<task>.jsonl here."),
    store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store for runs, samples and the generation cache: a SQLite path or postgresql://USER@HOST:PORT/DB (env EVALKIT_STORE)."),
    seed: int = typer.Option(1234, "--seed", help="Seed for sampled generations (each sample is seeded on its own)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Local data mirror root (env EVALKIT_DATA_DIR); default: the HuggingFace hub."),
    samples: Optional[int] = typer.Option(None, "--samples", help="Samples per prompt (overrides the task's n)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (openai: models), e.g. http://127.0.0.1:8000/v1."),
    model_args: Optional[str] = typer.Option(None, "--model-args", help="Backend options as k=v,k2=v2 (e.g. dtype=bfloat16)."),
    apply_chat_template: bool = typer.Option(False, "--apply-chat-template", help="Wrap prompts in the model's chat template."),
    system_prompt: Optional[str] = typer.Option(None, "--system-prompt", help="System message (with --apply-chat-template)."),
    aggregate: Optional[str] = typer.Option(None, "--aggregate", help="How n samples become one answer: first, majority, mpsc (default: majority when --samples > 1)."),
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature for every task (default: the task's; 0.7 for --samples > 1 on greedy tasks)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing results.json in --output."),
    critic: bool = typer.Option(False, "--critic", help="CRITIC: verify each answer with a tool, critique and revise it (generate tasks)."),
    max_rounds: Optional[int] = typer.Option(None, "--max-rounds", help="CRITIC revision rounds (default: the task's, else 3)."),
    num_fewshot: Optional[int] = typer.Option(None, "--num-fewshot", help="Few-shot exemplars per prompt for every task (0: zero-shot; default: the task's)."),
    gen_kwargs: Optional[str] = typer.Option(None, "--gen-kwargs", help="Decoding overrides: max_tokens=N,temperature=T,top_p=P,stop=A|B,n=N."),
    device: Optional[str] = typer.Option(None, "--device", help="hf backend device: cpu, cuda, cuda:1, mps (default: cuda when present)."),
    chat_template: Optional[str] = typer.Option(None, "--chat-template", help="A named chat template of the tokenizer (or a jinja file); implies --apply-chat-template."),
    include_path: list[str] = typer.Option([], "--include-path", help="Folder of extra task YAML files and prompts (repeatable; env EVALKIT_INCLUDE_PATH)."),
    log_to: list[str] = typer.Option([], "--log-to", help="Also send the run to: mlflow[=URI], wandb[=PROJECT], hf-hub=ORG/REPO (repeatable)."),
    log_samples: bool = typer.Option(False, "--log-samples", hidden=True, help="Accepted for lm-eval users: samples are always logged."),
    formats: Optional[int] = typer.Option(None, "--formats", help="Also run N-1 meaning-preserving prompt formats drawn with --seed; report format_min/max/spread."),
    format_index: Optional[int] = typer.Option(None, "--format", help="Run only format I of --seed's draw (rerun a format a --formats run reported)."),
    permute_options: Optional[int] = typer.Option(None, "--permute-options", help="Ask multiple-choice questions in K option orders; report acc per order, acc_all_orders, consistency, position bias."),
    fewshot: Optional[str] = typer.Option(None, "--fewshot", help="Exemplar selection: fixed, random, knn, skill-knn."),
    fewshot_pool: Optional[int] = typer.Option(None, "--fewshot-pool", help="Draw exemplars from a seeded sample of N pool items (default: the whole pool)."),
    fewshot_embedder: Optional[str] = typer.Option(None, "--fewshot-embedder", help="Embedding model for knn/skill-knn: minilm (default) or st:PATH."),
    verbose: bool = typer.Option(False, "--verbose", help="Show library warnings on stderr (default: they go to the log file)."),
) -> None:
    """Evaluate MODEL on TASKS; print a results table and store the run."""
    from evalkit.core.logs import route

    route(verbose)
    from evalkit.models import parse_model_args
    from evalkit.report import sinks
    from evalkit.report.console import print_results
    from evalkit.run.runner import RunConfig
    from evalkit.run.runner import run as do_run
    from evalkit.spec.overrides import Overrides, parse_gen_kwargs, run_model_args

    log_specs = sinks.parse(log_to)

    cfg = RunConfig(model=model, tasks=_split(tasks), limit=limit, batch_size=batch_size, output=output,
                    store=_store_target(store), seed=seed, data_dir=data_dir, samples=samples,
                    model_args=run_model_args(parse_model_args(model_args), base_url, device, chat_template),
                    apply_chat_template=apply_chat_template,
                    system_prompt=system_prompt, aggregator=aggregate, temperature=temperature, overwrite=overwrite,
                    options={k: v for k, v in {"critic": critic or None, "max_rounds": max_rounds, "formats": formats,
                                               "format": format_index, "permute_options": permute_options,
                                               "fewshot": fewshot, "fewshot_pool": fewshot_pool,
                                               "fewshot_embedder": fewshot_embedder}.items() if v is not None},
                    overrides=Overrides(num_fewshot, parse_gen_kwargs(gen_kwargs)), include_path=include_path)
    res = do_run(cfg)
    print_results(res.results, res.payload.groups, title=f"{model} · run {res.run_id}", breakdowns=res.payload.breakdown)
    if output:
        typer.echo(f"results: {output / 'results.json'}")
    typer.echo(f"stored as run {res.run_id} in {_masked(store)}")
    for line in sinks.publish(log_specs, res.payload.to_json()):
        if not line.startswith("warning:"):  # warnings went to stderr already
            typer.echo(line)


@app.command("tasks")
def list_tasks(
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Count docs from this local mirror (env EVALKIT_DATA_DIR)."),
    include_path: list[str] = typer.Option([], "--include-path", help="Also list the tasks in this folder (repeatable; env EVALKIT_INCLUDE_PATH)."),
) -> None:
    """List tasks and groups, with doc counts when a local mirror is given."""
    from rich.console import Console
    from rich.table import Table

    from evalkit.spec import include

    include.activate(include_path)

    from evalkit.spec.loaders import data_dir as resolve_root
    from evalkit.spec.loaders import load_records
    from evalkit.spec.taskspec import load_catalog

    cat = load_catalog()
    root = resolve_root(data_dir)
    table = Table("name", "kind", "docs", "description")
    sizes: dict[str, int | None] = {}
    for name, spec in sorted(cat.tasks.items()):
        size = None
        if root is not None and spec.dataset.path and (root / spec.dataset.path).exists():
            size = len(load_records(spec.dataset, root))
        sizes[name] = size
    for g in sorted(cat.groups):
        members = cat.expand(g)
        known = [sizes[m] for m in members]
        total = sum(k for k in known if k is not None) if any(k is not None for k in known) else None
        table.add_row(g, f"group ({len(members)})", "" if total is None else str(total), cat.groups[g].description)
    in_groups: dict[str, list[str]] = {}
    for g in sorted(cat.groups):
        for t in cat.groups[g].tasks:
            in_groups.setdefault(t, []).append(g)
    for name, spec in sorted(cat.tasks.items()):
        about = f"in {', '.join(in_groups[name])}" if name in in_groups else spec.description
        table.add_row(name, "task", "" if sizes[name] is None else str(sizes[name]), about)
    Console().print(table)


@app.command()
def runs(store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store: a SQLite path or postgresql://USER@HOST:PORT/DB (env EVALKIT_STORE)."),
         show: Optional[str] = typer.Option(None, "--show", help="Print the results table of this run id.")) -> None:
    """List stored runs (or show one)."""
    from evalkit.report.console import print_results
    from evalkit.store import open_reader

    st = open_reader(store)
    if show:
        r = st.run(show)
        print_results(r["results"] or {}, {}, title=f"{r['model']} · run {r['run_id']} ({r['status']})")
        return
    from evalkit.report.runs_table import print_runs

    print_runs(st.runs())


@app.command("prepare-model")
def prepare_model(name: str = typer.Argument("smollm2-135m", help="Packaged model alias.")) -> None:
    """Convert a packaged GGUF model once into a cached safetensors folder (hf and vLLM load it); print its path."""
    from evalkit.models.aliases import prepared_model_dir

    typer.echo(str(prepared_model_dir(name)))


@app.command()
def compare(
    baseline: str = typer.Argument(..., help="Baseline: a run id, a results dir (results.json + samples/) or latest:MODEL."),
    candidate: str = typer.Argument(..., help="Candidate: a run id, a results dir or latest:MODEL."),
    store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store holding the runs: a SQLite path or postgresql:// URL (env EVALKIT_STORE)."),
    tasks: list[str] = typer.Option([], "--tasks", "-t", help="Compare only these tasks or groups (comma-separated)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, markdown (a PR comment) or json."),
    fail_on: str = typer.Option("none", "--fail-on", help="regression: exit 1 when a task drops significantly; none: always exit 0."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level, after Holm correction across tasks."),
    min_delta: float = typer.Option(0.0, "--min-delta", help="Smallest drop that counts as a regression, in points (0-100 scale)."),
    resamples: int = typer.Option(10_000, "--resamples", help="Paired-bootstrap resamples (non-binary scores)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    max_flips: int = typer.Option(20, "--max-flips", help="Flipped doc ids listed per task and direction (text format)."),
    by: str = typer.Option("task", "--by", help="task: one test per task; group: pool each group's subtasks into one test (more power)."),
) -> None:
    """Paired per-task comparison of two runs: delta, 95% CI, p-value (Holm), flipped samples."""
    from evalkit.report.compare import run_cli

    text, code = run_cli(baseline, candidate, store, _split(tasks) or None, fmt, fail_on, alpha, min_delta,
                         resamples, seed, max_flips, by)
    typer.echo(text.rstrip("\n"))
    if code:
        sys.exit(code)  # not typer.Exit: main() runs click with standalone_mode=False, which returns its code


leaderboard_app = typer.Typer(no_args_is_help=True, help="Leaderboards defined in leaderboards/*.yaml.")
app.add_typer(leaderboard_app, name="leaderboard")


@leaderboard_app.command("show")
def leaderboard_show(
    name: str = typer.Argument(..., help="Leaderboard name (a file in leaderboards/, e.g. reasoning)."),
    store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store: a SQLite path or postgresql://USER@HOST:PORT/DB (env EVALKIT_STORE)."),
) -> None:
    """Models x tasks, value ± 95% CI from the latest complete run of each, with macro and rank aggregates."""
    from evalkit.report.compare import open_store
    from evalkit.report.leaderboard import build_board, load_leaderboard, print_board

    print_board(build_board(load_leaderboard(name), open_store(store)))


@leaderboard_app.command("list")
def leaderboard_list() -> None:
    """List the defined leaderboards and their tasks."""
    from evalkit.report.leaderboard import load_leaderboards

    for name, spec in load_leaderboards().items():
        typer.echo(f"{name}: {spec.title} ({', '.join(t.task for t in spec.tasks)})")


site_app = typer.Typer(no_args_is_help=True, help="The static results site.")
app.add_typer(site_app, name="site")


@site_app.command("build")
def site_build(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the site into (open index.html; no server needed)."),
    store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store: a SQLite path or postgresql://USER@HOST:PORT/DB (env EVALKIT_STORE)."),
) -> None:
    """Build a self-contained static site: leaderboards, charts, runs and a per-sample browser."""
    from evalkit.report.site import build_site

    typer.echo(f"site: {build_site(store, out)}")


@app.command()
def export(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run id or latest:MODEL."),
    fmt: str = typer.Option("lm-eval", "--format", "-f", help="Export format (lm-eval)."),
    store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="Store: a SQLite path or postgresql://USER@HOST:PORT/DB (env EVALKIT_STORE)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="File to write (default results_<run>.json; - for stdout)."),
) -> None:
    """Write a stored run in another harness's results format."""
    from evalkit.report.export import export_run

    where = export_run(run_ref, store, fmt, output)
    typer.echo(where.rstrip("\n") if output == "-" else f"wrote {where}")


store_app = typer.Typer(no_args_is_help=True, help="The store: copy it between SQLite and PostgreSQL, migrate it.")
app.add_typer(store_app, name="store")


@store_app.command("copy")
def store_copy(
    src: str = typer.Argument(..., help="Store to copy from: a SQLite path or postgresql://USER@HOST:PORT/DB."),
    dst: str = typer.Argument(..., help="Store to copy into (created and migrated if needed)."),
    batch: int = typer.Option(2000, "--batch", help="Generation-cache rows per transaction."),
) -> None:
    """Copy runs, samples and the generation cache; idempotent, and a killed copy resumes where it stopped."""
    from evalkit.store.copy import copy_store

    typer.echo(copy_store(src, dst, batch=batch).summary())


@store_app.command("migrate")
def store_migrate(store: str = typer.Option(DEFAULT_STORE, "--store", envvar="EVALKIT_STORE", help="SQLite path or postgresql:// URL (env EVALKIT_STORE).")) -> None:
    """Bring an older store to this evalkit's schema version (writers also do this on open)."""
    from evalkit.store import SCHEMA_VERSION, Store

    Store(store).close()
    typer.echo(f"{_masked(store)}: schema version {SCHEMA_VERSION}")


def main() -> None:
    from evalkit.cli.errors import is_help_request, one_line, usage_error_types

    logging.basicConfig(level=os.environ.get("EVALKIT_LOG", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from evalkit.cli.aliases import normalize_argv

        sys.argv[1:] = normalize_argv(sys.argv[1:])
        # Non-standalone typer returns an exit code instead of raising for
        # Exit and Ctrl-C (which it turns into Exit(130)).
        code = app(standalone_mode=False, prog_name="evalkit")
        if code == 130:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except EvalkitError as exc:
        typer.echo(f"error: {_masked(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:  # an optional package imported where a feature is first used
        if exc.name and exc.name.split(".")[0] == "evalkit":
            raise
        err = missing_dependency(exc, "this command")
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted: finished generations are cached; re-run the same command to resume", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort,):
        sys.exit(1)
    except usage_error_types() as exc:  # unknown option, missing argument, bad value
        if is_help_request(exc):
            exc.show()  # type: ignore[attr-defined]  # click exception API
        else:
            typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)


if __name__ == "__main__":
    main()
