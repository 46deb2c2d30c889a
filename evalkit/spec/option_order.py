"""Option-order robustness: the same multiple-choice question with its options reordered.

``--permute-options K`` asks every question in K option orders: the K cyclic
shifts when K <= the number of options, else the identity and K-1 seeded
permutations. The gold letter is remapped to where the gold option moved.
Order 0 is always the data's own order, so its score is the plain score.

An order is a tuple ``perm`` with ``perm[p]`` = the original index of the option
shown at position p.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

from evalkit.core.types import Doc, SampleRecord

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BBH_LINE = re.compile(r"^\(([A-Z])\) (.*)$", re.M)
# "(A)text" mostly; some logiqa items write "A text"
_AGI_PREFIX = re.compile(r"^\s*[(（]?([A-G])(?:[)）.．]\s*|\s+)")


def orders(n_options: int, k: int, seed: int, doc_id: int) -> list[tuple[int, ...]]:
    """K option orders for a question with ``n_options`` options."""
    ident = tuple(range(n_options))
    if k <= n_options:
        return [tuple((p + j) % n_options for p in range(n_options)) for j in range(k)]
    rng = random.Random(f"permute:{seed}:{doc_id}")
    return [ident] + [tuple(rng.sample(range(n_options), n_options)) for _ in range(k - 1)]


def remap_letters(letters: str, perm: tuple[int, ...]) -> str:
    """Gold letters in the original order -> the letters of the same options in ``perm``."""
    return "".join(sorted(LETTERS[perm.index(LETTERS.index(c))] for c in letters))


def original_letters(letters: str, perm: tuple[int, ...]) -> str:
    """Letters chosen in order ``perm`` -> the letters of those options in the original order."""
    return "".join(sorted(LETTERS[perm[LETTERS.index(c)]] for c in letters if LETTERS.index(c) < len(perm)))


# -- per-benchmark documents --------------------------------------------------

def bbh_options(text: str) -> list[tuple[str, str]]:
    _, _, block = text.rpartition("Options:")
    return [(m.group(1), m.group(2)) for m in _BBH_LINE.finditer(block)]


def n_options(doc: Doc, kind: str, target_field: str) -> int:
    """How many options a doc has, 0 when it cannot be permuted (no options,
    or a gold answer that is not option letters)."""
    if kind == "bbh":
        opts = bbh_options(str(doc.fields.get("input", "")))
        letters = "".join(c for c, _ in opts)
        gold = str(doc.fields.get(target_field, "")).strip()
        ok = letters == LETTERS[:len(letters)] and re.fullmatch(r"\([A-Z]\)", gold) and gold[1] in letters
        return len(opts) if ok else 0
    opts = doc.fields.get("options") or []
    letters = "".join(m.group(1) if (m := _AGI_PREFIX.match(str(o))) else "" for o in opts)
    raw = doc.fields.get(target_field)
    gold_letters = "".join(raw) if isinstance(raw, list) else str(raw or "")
    usable = letters == LETTERS[:len(opts)] and gold_letters and all(c in letters for c in gold_letters)
    return len(opts) if usable else 0


def permute_doc(doc: Doc, kind: str, target_field: str, perm: tuple[int, ...]) -> Doc:
    """The doc with its options shown in order ``perm`` and its gold remapped."""
    f = dict(doc.fields)
    if kind == "bbh":
        text = str(f["input"])
        head, sep, block = text.rpartition("Options:")
        texts = [t for _, t in bbh_options(text)]
        first = _BBH_LINE.search(block)
        assert first is not None
        lines = "\n".join(f"({LETTERS[p]}) {texts[perm[p]]}" for p in range(len(perm)))
        end = list(_BBH_LINE.finditer(block))[-1].end()
        f["input"] = head + sep + block[:first.start()] + lines + block[end:]
        f[target_field] = "(" + remap_letters(str(f[target_field]).strip()[1], perm) + ")"
    else:
        # each position keeps its own label text ("(B)" or "B "), so order 0 is the doc as it was
        heads = [m.group(0) for o in f["options"] if (m := _AGI_PREFIX.match(str(o)))]
        bodies = [str(o)[len(h):] for o, h in zip(f["options"], heads)]
        f["options"] = [heads[p] + bodies[perm[p]] for p in range(len(perm))]
        gold = f[target_field]
        f[target_field] = ([remap_letters(g, perm) for g in gold] if isinstance(gold, list)
                           else remap_letters(str(gold), perm))
    return Doc(doc.id, f)


# -- metrics -------------------------------------------------------------------

def chosen_letters(extracted: Any) -> str | None:
    """Option letters a record's extracted answer names: "(B)" -> "B", "AC" -> "AC"."""
    if isinstance(extracted, list):
        extracted = "".join(map(str, extracted))
    if not isinstance(extracted, str):
        return None
    m = re.fullmatch(r"\(([A-Z])\)", extracted.strip())
    if m:
        return m.group(1)
    return extracted if re.fullmatch(r"[A-Z]+", extracted) else None


def order_metrics(per_order: list[dict[int, SampleRecord]], perms: dict[int, list[tuple[int, ...]]],
                  metric: str) -> dict[str, float]:
    """acc per order, acc_all_orders, answer_consistency and position bias over
    the docs present in every order (``per_order[j][doc_id]``)."""
    docs = [d for d in per_order[0] if all(d in o for o in per_order) and d in perms]
    out: dict[str, float] = {}
    if not docs:
        return out
    for j, recs in enumerate(per_order):
        out[f"{metric}_order_{j}"] = sum(recs[d].score for d in docs) / len(docs)
    out[f"{metric}_all_orders"] = sum(all(o[d].score >= 1.0 for o in per_order) for d in docs) / len(docs)
    consistent = 0
    picked: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    n_single = 0
    for d in docs:
        contents = []
        for j, o in enumerate(per_order):
            letters = chosen_letters(o[d].extracted)
            contents.append(original_letters(letters, perms[d][j]) if letters else None)
            tgt = chosen_letters(o[d].target)
            if letters and len(letters) == 1:
                picked[letters] += 1
            if tgt and len(tgt) == 1:
                gold[tgt] += 1
                n_single += 1
        consistent += contents[0] is not None and all(c == contents[0] for c in contents)
    out["answer_consistency"] = consistent / len(docs)
    total = len(docs) * len(per_order)
    for letter in sorted(set(picked) | set(gold)):
        out[f"position_pick_{letter}"] = picked[letter] / total
        out[f"position_gold_{letter}"] = gold[letter] / max(n_single, 1)
    return out
