"""Print the markdown tables of docs/robustness.md from the runs' output folders.

    python docs/make_robustness_tables.py out/robust

reads ``formats8/``, ``permute4/``, ``permute4-mc/``, ``fewshot-{bbh,math}-<method>/`` (each an
``evalkit run --output`` folder) and prints what exists; a missing folder is reported as not run.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

METHODS = ("fixed", "random", "knn", "skill-knn")


def load(folder: Path) -> dict | None:
    f = folder / "results.json"
    return json.loads(f.read_text()) if f.is_file() else None


def pts(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}"


def formats_table(res: dict) -> list[str]:
    fm = res["config"]["robustness"]["formats"]
    n = len(fm)
    out = ["| task | own format | " + " | ".join(f"f{i}" for i in range(1, n)) + " | min | max | spread | mean ± 95% CI |",
           "|---|" + "---:|" * (n + 4)]
    for task, row in res["results"].items():
        if "@" in task or "format_spread" not in row:
            continue
        cells = [pts(row[f"format_{i}"]) for i in range(n)]
        ci = 1.96 * row.get("format_mean_stderr", float("nan"))
        out.append(f"| {task} | " + " | ".join(cells) + f" | {pts(row['format_min'])} | {pts(row['format_max'])} | "
                   f"**{pts(row['format_spread'])}** | {pts(row['format_mean'])} ± {ci * 100:.1f} |")
    out += ["", "| format | description |", "|---|---|"]
    from evalkit.spec.formats import PromptFormat

    def describe(d: dict) -> str:
        return PromptFormat(**{k: v for k, v in d.items() if k != "describe"}).describe().replace("|", "\\|")

    out += [f"| f{i} | {describe(fm[str(i)])} |" for i in range(n)]
    return out


def order_table(res: dict) -> list[str]:
    out = ["| task | metric | order 0 | order 1 | order 2 | order 3 | all orders | consistency |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    letters = sorted({k[-1] for row in res["results"].values() for k in row if k.startswith("position_")})
    bias = ["| task | " + " | ".join(f"{c} chosen / gold" for c in letters) + " |", "|---|" + "---:|" * len(letters)]
    for task, row in res["results"].items():
        if "@" in task or "answer_consistency" not in row:
            continue
        metric = next(k[: -len("_all_orders")] for k in row if k.endswith("_all_orders"))
        orders = [pts(row.get(f"{metric}_order_{j}")) for j in range(4)]
        out.append(f"| {task} | {metric} | " + " | ".join(orders) +
                   f" | {pts(row[f'{metric}_all_orders'])} | {pts(row['answer_consistency'])} |")
        bias.append(f"| {task} | " + " | ".join(
            f"{pts(row.get(f'position_pick_{c}'))} / {pts(row.get(f'position_gold_{c}'))}" for c in letters) + " |")
    return out + [""] + bias


def fewshot_table(root: Path, kind: str) -> list[str]:
    runs = {m: load(root / f"fewshot-{kind}-{m}") for m in METHODS}
    tasks = sorted({t for r in runs.values() if r for t in r["results"]})
    out = ["| task | " + " | ".join(METHODS) + " |", "|---|" + "---:|" * len(METHODS)]
    for t in tasks:
        cells = []
        for m in METHODS:
            r = runs[m]
            row = (r or {}).get("results", {}).get(t)
            if not row:
                cells.append("not run")
                continue
            metric = "exact_match" if "exact_match" in row else next(iter(row))
            cells.append(f"{pts(row[metric])} ± {1.96 * row[metric + '_stderr'] * 100:.1f}")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    pools = {t: d for r in runs.values() if r for t, d in (r["config"]["robustness"]["fewshot"].get("pools") or {}).items()}
    if pools:
        out += [""] + [f"- pool of `{t}`: {d}" for t, d in pools.items()]
    return out


def _question(item_id: str) -> str:
    """The first line of the question a pool id ("bbh/x.json#12") names, from the data mirror."""
    import os

    from evalkit.spec.loaders import load_docs
    from evalkit.spec.taskspec import DatasetSpec

    path, _, idx = item_id.partition("#")
    if not idx.isdigit() or not path.endswith((".json", ".jsonl")):
        return "(the task's own exemplar)"
    fmt = "json_examples" if path.endswith(".json") else "jsonl"
    docs = load_docs(DatasetSpec(path=path, format=fmt), Path(os.environ.get("EVALKIT_DATA_DIR", "../shared/data")))
    f = docs[int(idx)].fields
    text = str(f.get("input") or f.get("problem") or f.get("question") or "").strip().splitlines()[0]
    return text[:90] + ("…" if len(text) > 90 else "")


def exemplars(root: Path, kind: str, task: str, doc_index: int = 0) -> list[str]:
    out = []
    for m in METHODS[1:]:
        f = root / f"fewshot-{kind}-{m}" / "samples" / f"{task}.jsonl"
        if f.is_file():
            line = json.loads(f.read_text().splitlines()[doc_index])
            path = line["extra"]["exemplar_ids"][0].partition("#")[0]
            if kind == "math":
                path = "math/math500_test.jsonl"
            test_id = f"{path}#{line['doc_id']}"
            out.append(f"Test question, `{task}` doc {line['doc_id']}: {_question(test_id)}")
            break
    for m in METHODS:
        f = root / f"fewshot-{kind}-{m}" / "samples" / f"{task}.jsonl"
        if not f.is_file():
            continue
        line = json.loads(f.read_text().splitlines()[doc_index])
        skill = line["extra"].get("skill")
        out.append(f"- `{m}`" + (f" (the model's skill line: \"{skill}\")" if skill else "") + ":")
        out += [f"  - `{i}` {_question(i)}" for i in line["extra"].get("exemplar_ids", [])]
    return out


def write_svgs(root: Path, dest: Path) -> list[str]:
    """The site's robustness charts as files, for the markdown report."""
    from types import SimpleNamespace

    from evalkit.report.site.robustness import fewshot_charts, format_charts, order_charts

    dest.mkdir(parents=True, exist_ok=True)
    runs = []
    for folder in sorted(p for p in root.iterdir() if (p / "results.json").is_file()):
        res = load(folder)
        runs.append(SimpleNamespace(run_id=res["run_id"], model=res["config"]["model"], status="complete",
                                    started=(folder / "results.json").stat().st_mtime, config=res["config"],
                                    results=res["results"], slug=folder.name))
    charts = [c for r in runs for c in format_charts(r) + order_charts(r)] + fewshot_charts(runs)
    names = []
    for c in charts:
        name = c["file"]
        (dest / f"{name}.svg").write_text(str(c["svg"]), encoding="utf-8")
        names.append(f"{name}.svg")
    return names


def main(root: Path) -> None:
    for title, res, fn in (("formats", load(root / "formats8"), formats_table), ("orders", load(root / "permute4"), order_table),
                           ("orders (log-likelihood)", load(root / "permute4-mc"), order_table)):
        print(f"### {title}\n")
        print("\n".join(fn(res)) if res else "not run")
        print()
    for kind in ("bbh", "math"):
        print(f"### few-shot {kind}\n")
        print("\n".join(fewshot_table(root, kind)))
        print()
    print("\n".join(exemplars(root, "bbh", "bbh_direct_date_understanding") + exemplars(root, "math", "math500")))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/robust"))
    if len(sys.argv) > 2:  # a folder for the charts as SVG files
        names = dict.fromkeys(write_svgs(Path(sys.argv[1]), Path(sys.argv[2])))
        print("\n### Charts (the site's Robustness page)\n")
        print("\n".join(f"![{n}](robustness/{n})" for n in names))
