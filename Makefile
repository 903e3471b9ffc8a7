# Two commands for a fresh machine:  `make demo`  and  `make test`.
# Each sets up .venv first: torch goes in before anything else (the CPU build by default), then the
# package with a constraints file that pins that torch so no later step swaps it for a CUDA build.
#
#   make demo                                                # CPU torch 2.13.0 (a local wheel here)
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu   # CPU build on a machine without a GPU
#   make demo TORCH='torch==2.11.0' EXTRAS=gpu,dev          # your CUDA build on a GPU machine

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS ?= cpu,dev,modelopt,video,openvino
DEMO_OUT ?= demo_out

BIN := $(VENV)/bin
STAMP := $(VENV)/.zoe-export-installed

.PHONY: install demo test test-fast clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(BIN)/python -m pip freeze | grep -iE '^torch==' > $(VENV)/constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/constraints.txt -e ".[$(EXTRAS)]"
	touch $@

demo: $(STAMP)
	$(BIN)/zoe-export demo --output $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/python -m pytest

# the development loop (under 2 minutes on 2 cores): everything but the full-size BEiT-L and `slow` tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not full_size and not slow"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
