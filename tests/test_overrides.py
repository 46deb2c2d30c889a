"""Per-run overrides (--num-fewshot, --gen-kwargs, fractional --limit, --batch-size auto),
lm-eval's flag spellings and the --model hf --model-args pretrained=X hint."""
from __future__ import annotations

import json

import pytest

from evalkit.cli.aliases import normalize_argv
from evalkit.core.errors import BackendError, ConfigError
from evalkit.models.autobatch import BatchSizer
from evalkit.spec.overrides import docs_for_limit, parse_batch_size, parse_gen_kwargs, parse_limit

TASK = "bbh_date_understanding"  # 250 docs, 3 CoT exemplars


@pytest.mark.parametrize("text,expected", [
    ("max_tokens=64", {"max_tokens": 64}),
    ("max_gen_toks=32,top_p=0.9", {"max_tokens": 32, "top_p": 0.9}),
    ("stop=Q:|\\n\\n,temperature=0.5", {"stop": ("Q:", "\n\n"), "temperature": 0.5}),
    ("until=</s>", {"stop": ("</s>",)}),
    ("", {}),
])
def test_parse_gen_kwargs(text, expected):
    assert parse_gen_kwargs(text) == expected


@pytest.mark.parametrize("text", ["max_tokens=0", "top_p=1.5", "beams=4", "max_tokens=lots", "temperature"])
def test_parse_gen_kwargs_refuses(text):
    with pytest.raises(ConfigError, match="--gen-kwargs"):
        parse_gen_kwargs(text)


@pytest.mark.parametrize("text,parsed,kept_of_250", [("10", 10, 10), ("0.1", 0.1, 25), ("0.001", 0.001, 1),
                                                     ("1.0", 1.0, 250), ("900", 900, 250)])
def test_limit_count_or_fraction(text, parsed, kept_of_250):
    assert parse_limit(text) == parsed
    assert docs_for_limit(250, parse_limit(text)) == kept_of_250


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "ten"])
def test_limit_refuses(text):
    with pytest.raises(ConfigError, match="--limit"):
        parse_limit(text)


def test_batch_size_values():
    assert parse_batch_size("auto") == "auto" and parse_batch_size("16") == 16
    with pytest.raises(ConfigError):
        parse_batch_size("0")


def test_auto_batch_halves_on_out_of_memory():
    seen = []

    def fn(batch):  # "fits" only 5 rows at once, like a GPU that is too small
        seen.append(len(batch))
        if len(batch) > 5:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [x * 2 for x in batch]

    sizer = BatchSizer("auto", start=32)
    out = [y for _, ys in sizer.run(list(range(20)), fn) for y in ys]
    assert out == [x * 2 for x in range(20)]  # nothing lost or repeated
    assert seen[:4] == [20, 16, 8, 4] and sizer.size == 4 and sizer.halvings == 3


def test_fixed_batch_does_not_swallow_oom_and_auto_gives_up_at_one():
    def oom(batch):
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        list(BatchSizer(8).run([1, 2, 3], oom))
    with pytest.raises(BackendError, match="batch size 1"):
        list(BatchSizer("auto", start=4).run([1, 2, 3], oom))


def test_normalize_argv():
    argv = ["run", "--model_args", "dtype=bfloat16", "--num_fewshot=0", "--output_path", "out",
            "--log_samples", "--include_path", "d", "--batch_size", "auto", "--apply_chat_template",
            "--system_instruction", "Be brief.", "--", "--model_args"]
    assert normalize_argv(argv) == ["run", "--model-args", "dtype=bfloat16", "--num-fewshot=0", "--output", "out",
                                    "--log-samples", "--include-path", "d", "--batch-size", "auto",
                                    "--apply-chat-template", "--system-prompt", "Be brief.", "--", "--model_args"]


def _run(cli, data_dir, store_path, *args):
    return cli("run", "--model", "dummy", "--tasks", TASK, "--data-dir", data_dir, "--store", store_path, *args)


def test_lm_eval_spellings_run(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    res = _run(cli, data_dir, store_path, "--limit", "0.02", "--num_fewshot", "1", "--batch_size", "4",
               "--gen_kwargs", "max_tokens=32", "--output_path", out, "--log_samples")
    assert res.code == 0, res.err
    payload = json.loads((out / "results.json").read_text())
    assert payload["results"][TASK]["n"] == 5  # ceil(250 * 0.02)
    assert payload["config"]["limit"] == 0.02
    assert payload["config"]["overrides"] == {"num_fewshot": 1, "gen_kwargs": {"max_tokens": 32}}
    samples = [json.loads(x) for x in (out / "samples" / f"{TASK}.jsonl").read_text().splitlines()]
    assert all(s["prompt"].count("Q: ") == 2 for s in samples)  # one exemplar and the question


def test_overrides_change_spec_hash_and_cache_key(cli, tmp_path, data_dir, store_path):
    def run(*extra):
        out = tmp_path / f"o{len(list(tmp_path.iterdir()))}"
        res = _run(cli, data_dir, store_path, "--limit", "3", "--output", out, *extra)
        assert res.code == 0, res.err
        return json.loads((out / "results.json").read_text())["config"]

    base = run()
    again = run()
    assert again["requests"]["sent"] == 0  # same settings: all from the cache
    for extra in (["--num-fewshot", "0"], ["--gen-kwargs", "max_tokens=17"], ["--gen-kwargs", "stop=A:"]):
        cfg = run(*extra)
        assert cfg["task_specs"][TASK]["spec_hash"] != base["task_specs"][TASK]["spec_hash"], extra
        assert cfg["requests"]["sent"] == 3, extra  # a different key: nothing reused


def test_num_fewshot_on_a_task_without_exemplars(cli, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", "humaneval", "--limit", "1", "--num-fewshot", "3",
              "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0 and "has no few-shot exemplars" in res.err and "humaneval" in res.err


@pytest.mark.parametrize("model", ["hf", "vllm"])
def test_lm_eval_model_spelling_hint(cli, data_dir, store_path, model):
    res = cli("run", "--model", model, "--model-args", "pretrained=HuggingFaceTB/SmolLM2-135M", "--tasks", TASK,
              "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0
    assert f"write `--model {model}:HuggingFaceTB/SmolLM2-135M`" in res.err
    assert "Traceback" not in res.err


def test_device_flag_reaches_model_args(cli, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", TASK, "--limit", "1", "--device", "cpu",
              "--model-args", "device=cuda", "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0 and "contradicts --model-args device=cuda" in res.err


def test_runs_shows_whole_ids_at_any_width(cli, data_dir, store_path, monkeypatch):
    res = _run(cli, data_dir, store_path, "--limit", "1")
    run_id = res.out.strip().splitlines()[-1].split()[3]
    for width in ("30", "60", "90", "200"):
        monkeypatch.setenv("COLUMNS", width)
        out = cli("runs", "--store", store_path).out
        assert run_id in out, width
