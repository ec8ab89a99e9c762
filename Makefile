# The README's two commands: `make book` and `make test`. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The environment is rebuilt whenever the dependency list (pyproject.toml + lock) changes.
DEPS_HASH := $(shell cat pyproject.toml requirements-lock.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.deps-$(DEPS_HASH)
JOBS ?= 2

.PHONY: help env book test lint unit notebooks build-check ledger bench execute clean

help:
	@echo "make book    install (if needed), execute and render the book to _build/html"
	@echo "make test    install (if needed) and run every check (ruff, unit, nbval, papermill, book build, ledger)"
	@echo "make bench   print the benchmark figures (resnet_unroll vs torchdiffeq; gradient memory/time)"
	@echo "make execute NB=chapters/X.ipynb   re-execute one chapter in place (maintainers; then commit it)"

$(STAMP): pyproject.toml requirements-lock.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.deps-*
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first, so nothing later can pull a CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0" -c requirements-lock.txt
	$(BIN)/python -m pip install -q -c requirements-lock.txt -e ".[book,test]"
	$(BIN)/python -c 'import torch; assert torch.version.cuda is None, "a CUDA build of torch was installed"'
	touch $(STAMP)

env: $(STAMP)

book: $(STAMP)
	# the robustness runs (quick parameters, seeds 1-3) that the Claims page summarises; cached
	$(BIN)/python -m ctdepth_lib seeds --out _build/seeds --jobs $(JOBS)
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python -m ctdepth_lib claims --build _build
	@echo "The book is in _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	# 1. unit tests, nbval (fresh full runs == committed outputs), papermill with seeds 1-3, bad parameters
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests --ignore=tests/browser $$($(BIN)/python -m ctdepth_lib toc) --nbval
	# 2. the book, rendered from the committed (nbval-checked) outputs, with -W -n
	$(BIN)/python tools/build_check.py
	# 3. every page in headless Chromium, offline
	$(BIN)/python -m pytest tests/browser
	# 4. the claims ledger of that build: every registered claim checked and passing
	$(BIN)/python -m ctdepth_lib claims --build _build/check/_build
	@echo "make test: all checks passed"

bench: $(STAMP)
	$(BIN)/python -m ctdepth_lib bench
	$(BIN)/python -m ctdepth_lib cost

execute: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute NB=chapters/NAME.ipynb"; exit 2; }
	$(BIN)/jupyter execute --inplace --timeout=900 "$(NB)"

clean:
	rm -rf _build
