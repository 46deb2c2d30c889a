"""Real stored runs for compare/site tests: BBH gold replays, perturbed replays
(some answers wrong, some outputs hostile HTML) and dummy-model runs, all
through `evalkit.run.runner.run`."""
from __future__ import annotations

import json
import random
from pathlib import Path

from evalkit.run.runner import RunConfig, run
from evalkit.spec.taskspec import load_catalog

TASKS = ["bbh_navigate", "bbh_boolean_expressions", "bbh_date_understanding"]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)></pre></details><b>bold</b>'


def gold_targets(data_dir: Path, tasks: list[str] = TASKS) -> dict[tuple[str, int], str]:
    cat = load_catalog()
    out = {}
    for t in tasks:
        recs = json.loads((data_dir / cat.tasks[t].dataset.path).read_text())["examples"]
        out.update({(t, i): r["target"] for i, r in enumerate(recs)})
    return out


def write_replay(path: Path, targets: dict[tuple[str, int], str], wrong: set[tuple[str, int]] = frozenset(),
                 hostile: bool = False) -> Path:
    """A replay file answering the target, except for `wrong` docs (hostile HTML when asked)."""
    with open(path, "w", encoding="utf-8") as f:
        for (task, doc), target in targets.items():
            answer = (HOSTILE if hostile else "(Z) nothing") if (task, doc) in wrong else target
            f.write(json.dumps({"task": task, "doc_id": doc, "output": f"Thinking... So the answer is {answer}."}) + "\n")
    return path


def pick_wrong(targets: dict[tuple[str, int], str], rate: float, seed: int) -> set[tuple[str, int]]:
    rng = random.Random(seed)
    return {k for k in targets if rng.random() < rate}


def replay_run(path: Path, store: Path, data_dir: Path, tasks: list[str] = TASKS, output: Path | None = None,
               limit: int | None = None) -> str:
    res = run(RunConfig(model=f"replay:{path}", tasks=tasks, data_dir=str(data_dir), store=store, output=output,
                        limit=limit))
    return res.run_id


def dummy_run(model: str, store: Path, data_dir: Path, tasks: list[str], limit: int = 10) -> str:
    return run(RunConfig(model=model, tasks=tasks, data_dir=str(data_dir), store=store, limit=limit)).run_id


HOSTILE_MODEL_FILE = "<img src=x onerror=alert(7)>.jsonl"


def demo_store(tmp: Path, data_dir: Path) -> dict:
    """A store with real runs of every kind the site shows: BBH gold replay, a perturbed
    replay (20% wrong on navigate, hostile outputs), a replay whose model name is hostile
    HTML, dummy-model checkpoints (a trend) and a dummy run of the whole bbh group."""
    store = tmp / "s.db"
    targets = gold_targets(data_dir)
    wrong = pick_wrong({k: v for k, v in targets.items() if k[0] == "bbh_navigate"}, 0.2, seed=1)
    gold = replay_run(write_replay(tmp / "gold.jsonl", targets), store, data_dir)
    pert = replay_run(write_replay(tmp / "pert.jsonl", targets, wrong, hostile=True), store, data_dir)
    evil = replay_run(write_replay(tmp / HOSTILE_MODEL_FILE, targets, wrong), store, data_dir, tasks=["bbh_navigate"])
    ckpts = [dummy_run(f"dummy:ckpt-{s}", store, data_dir, ["bbh_navigate", "bbh_snarks"], limit=12) for s in (100, 200, 300)]
    group = dummy_run("dummy", store, data_dir, ["bbh"], limit=3)
    return {"store": store, "gold": gold, "pert": pert, "evil": evil, "ckpts": ckpts, "group": group, "wrong": wrong}
