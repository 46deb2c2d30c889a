"""Shared fixtures: the real benchmark data in ../shared/data, a scratch store,
and a helper that runs the CLI in-process the way a user's shell would."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def data_root() -> Path:
    root = Path(os.environ.get("EVALKIT_DATA_DIR") or REPO.parent / "shared" / "data")
    if not (root / "bbh").is_dir():
        raise RuntimeError(f"benchmark data not found at {root}: set EVALKIT_DATA_DIR to the shared/data mirror")
    return root


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return data_root()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, err={self.err[-500:]!r})"


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `evalkit ARGS...` in-process; returns exit code, stdout, stderr."""
    from evalkit import cli as cli_mod

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["evalkit", *map(str, args)])
        capsys.readouterr()
        code = 0
        try:
            cli_mod.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
