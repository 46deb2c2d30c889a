"""Bench 1: harness overhead on full BBH (6,511 prompts) with no model cost.

evalkit (replay of gold answers, and the model-free `dummy` backend) against
lm-eval 0.4.13 `--model dummy` on the same local data: lm-eval's own
bbh_cot_fewshot task files, re-pointed at the local JSON by generated include
files. Wall time and peak memory include start-up.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import ANCHOR_PY, DATA, EVALKIT_PY, OUT, alternate, median

SUBTASKS = sorted(p.stem for p in (DATA / "bbh").glob("*.json"))


def gold_replay(path: Path) -> None:
    with open(path, "w") as f:
        for sub in SUBTASKS:
            for i, ex in enumerate(json.loads((DATA / "bbh" / f"{sub}.json").read_text())["examples"]):
                f.write(json.dumps({"task": f"bbh_{sub}", "doc_id": i,
                                    "output": f"So the answer is {ex['target']}."}) + "\n")


def lmeval_local_tasks(folder: Path) -> None:
    """One include file per subtask: lm-eval's own config with the dataset swapped for local JSON."""
    import subprocess

    tasks_root = subprocess.run([str(ANCHOR_PY), "-c", "import lm_eval.tasks, os; print(os.path.dirname(lm_eval.tasks.__file__))"],
                                capture_output=True, text=True, check=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for sub in SUBTASKS:
        name = f"bbhlocal_cot_fewshot_{sub}"
        names.append(name)
        (folder / f"{name}.yaml").write_text(
            f"include: {tasks_root}/bbh/cot_fewshot/{sub}.yaml\n"
            f"task: {name}\ntag: []\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n    test: {DATA / 'bbh' / f'{sub}.json'}\n  field: examples\n")
    (folder / "bbhlocal.yaml").write_text("group: bbhlocal_cot_fewshot\ntask:\n" + "".join(f"  - {n}\n" for n in names))


def main(repeats: int = 3) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bbh-bench-", dir=OUT))
    replay = work / "gold.jsonl"
    gold_replay(replay)
    lmeval_local_tasks(work / "lm_eval_tasks")
    commands = {
        "evalkit (replay)": [EVALKIT_PY, "-m", "evalkit.cli", "run", "--model", f"replay:{replay}", "--tasks", "bbh",
                             "--data-dir", DATA, "--store", work / "replay.db"],
        "evalkit (dummy)": [EVALKIT_PY, "-c", "import sys,tempfile,os; from evalkit.cli import main; "
                            "sys.argv=['evalkit','run','--model','dummy','--tasks','bbh','--data-dir',sys.argv[1],"
                            "'--store',tempfile.mktemp(suffix='.db')]; main()", DATA],
        "lm-eval 0.4.13 (dummy)": [ANCHOR_PY, "-m", "lm_eval", "--model", "dummy", "--tasks", "bbhlocal_cot_fewshot",
                                   "--include_path", work / "lm_eval_tasks"],
    }
    res = alternate(commands, repeats)
    anchor = median([t.wall_s for t in res["lm-eval 0.4.13 (dummy)"]])
    rows = []
    for name, ts in res.items():
        wall = median([t.wall_s for t in ts])
        rows.append({"bench": "BBH harness overhead (6,511 prompts)", "tool": name, "median_s": wall,
                     "peak_rss_mb": median([t.max_rss_mb for t in ts]), "ratio_vs_anchor": wall / anchor})
    return {"rows": rows}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
