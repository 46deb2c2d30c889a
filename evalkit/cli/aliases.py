"""lm-evaluation-harness spellings of `evalkit run` flags, accepted as hidden aliases.

lm-eval users type ``--model_args``, ``--num_fewshot``, ``--output_path`` from
habit; rewriting them before click parses keeps ``--help`` showing one
spelling per flag. ``--log_samples`` maps to a no-op flag: evalkit always
stores every sample.
"""
from __future__ import annotations

ALIASES = {
    "--model_args": "--model-args",
    "--num_fewshot": "--num-fewshot",
    "--output_path": "--output",
    "--log_samples": "--log-samples",
    "--include_path": "--include-path",
    "--batch_size": "--batch-size",
    "--gen_kwargs": "--gen-kwargs",
    "--apply_chat_template": "--apply-chat-template",
    "--system_instruction": "--system-prompt",
    "--data_dir": "--data-dir",
    "--base_url": "--base-url",
    "--log_to": "--log-to",
    "--chat_template": "--chat-template",
}


def normalize_argv(argv: list[str]) -> list[str]:
    """``argv`` with lm-eval spellings (``--flag_name`` or ``--flag_name=value``) rewritten;
    arguments after ``--`` are left alone."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        flag, eq, value = arg.partition("=")
        out.append(ALIASES.get(flag, flag) + eq + value if flag in ALIASES else arg)
    return out
