"""The greedy decoder's batching mechanics on a tiny random Llama (fast, no
packaged model): shared prefixes, rows of several groups merged into one
batch, rows leaving at different steps, free slots refilled, padding columns
trimmed. Every row must produce what ``model.generate`` produces for its
prompt alone."""
from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from evalkit.models.hf_decode import GreedyDecoder, Row  # noqa: E402

VOCAB, EOS, PAD = 96, 1, 0


class Tok:
    """Token i reads as <i>, so stop strings can name tokens."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(f"<{i}>" for i in ids if not (skip_special_tokens and i in (EOS, PAD)))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                   bos_token_id=None, eos_token_id=EOS, pad_token_id=PAD)
    return transformers.LlamaForCausalLM(cfg).eval()


def reference(model, ids: list[int], max_new: int, stops: tuple[str, ...]) -> tuple[str, int]:
    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=max_new, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
    new = out[0, len(ids):].tolist()
    new = new[:new.index(EOS)] if EOS in new else new
    for k in range(1, len(new) + 1):  # the decoder stops at the token completing a stop string
        if any(s in Tok().decode(new[:k]) for s in stops):
            new = new[:k]
            break
    text = Tok().decode(new)
    cuts = [text.find(s) for s in stops if s in text]
    return (text[:min(cuts)] if cuts else text), len(new)


def groups_of_rows(seed: int) -> list[list[Row]]:
    rng = random.Random(seed)
    groups, key = [], 0
    for g, size in enumerate([4, 2, 1, 3]):
        shared = [rng.randrange(2, VOCAB) for _ in range(40 if size > 1 else 0)]
        rows = []
        for _ in range(size):
            ids = shared + [rng.randrange(2, VOCAB) for _ in range(rng.randrange(3, 30))]
            stops = (f"<{rng.randrange(2, VOCAB)}>",) if g % 2 else ()
            rows.append(Row(key, ids, rng.randrange(4, 24), stops, prefix=len(shared)))
            key += 1
        groups.append(sorted(rows, key=lambda r: -len(r.ids)))
    return groups


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_every_row_matches_generate_alone(model, batch_size):
    groups = groups_of_rows(seed=batch_size)
    got = {}
    GreedyDecoder(model, Tok(), batch_size, [EOS], PAD, "cpu").run(
        groups, lambda row, done: got.__setitem__(row.key, (done.text, done.n_tokens)))
    rows = [r for g in groups for r in g]
    assert sorted(got) == [r.key for r in sorted(rows, key=lambda r: r.key)]
    for r in rows:
        assert got[r.key] == reference(model, r.ids, r.max_new, r.stops), r.key


def test_trim_drops_columns_no_row_attends_to(model):
    dec = GreedyDecoder(model, Tok(), 4, [EOS], PAD, "cpu")
    from evalkit.models.hf_decode import new_cache

    k = torch.randn(2, 2, 100, 16)
    cache = new_cache(2, [(k, k.clone()), (k, k.clone())])
    mask = torch.ones(2, 100, dtype=torch.long)
    mask[:, :70] = 0
    mask[1, 65:] = 1  # row 1 still attends from column 65
    cache2, mask2 = dec._trim(cache, mask, slack=10)
    assert mask2.shape[1] == 35 and torch.equal(cache2.layers[0].keys, k[:, :, 65:])
    same, m = dec._trim(cache, mask, slack=100)
    assert same is cache and m is mask  # too few columns to be worth a copy
