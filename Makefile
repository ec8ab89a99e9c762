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
# The foreign numerics paths of nbval passes 2 and 3: the two paths of `python -m ctdepth_lib
# audit-numerics` most unlike this machine's native one (ctdepth_lib/book/audit.py defines them:
# `default` has no vector kernels, no FMA in libm and one thread; `avx2` is an AVX2 machine with
# two threads). `python -m ctdepth_lib numerics PATH -- CMD` runs CMD with the path's variables,
# set for this CPU, and says what the process reads back.
FOREIGN_PATHS := default avx2
# A kernel gets 180 s to start, not nbval's 60: on a loaded 2-core VM one start once took longer,
# and every cell of that chapter then errored. The plugin also starts kernels one at a time across
# the workers (ctdepth_lib/book/kernels.py): two at once could be handed the same TCP port.
NBVAL := -p ctdepth_lib.book.nbval_plugin --nbval --nbval-kernel-startup-timeout=180
TORCH_WHEEL ?=
export TORCH_WHEEL

.PHONY: help env book pdf test lint bench execute audit clean

help:
	@echo "make book    install (if needed), execute and render the book to _build/html"
	@echo "make pdf     install (if needed) and write the whole book as one PDF, _build/pdf/ctdepth.pdf"
	@echo "make test    install (if needed) and run every check (ruff, unit, nbval native + 2 foreign numerics paths, papermill, book build, ledger)"
	@echo "make bench   print the benchmark figures (resnet_unroll vs torchdiffeq; gradient memory/time)"
	@echo "make audit   execute every chapter down every numerics path this CPU offers; list outputs that differ (maintainers)"
	@echo "make execute NB=chapters/X.ipynb   re-execute one chapter in place (maintainers; then commit it)"

$(STAMP): pyproject.toml requirements-lock.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.deps-*
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first, so nothing later can pull a CUDA build (or one clear message).
	$(BIN)/python tools/install_torch.py
	$(BIN)/python -m pip install -q -c requirements-lock.txt -e ".[book,test]"
	$(BIN)/python -c 'import torch; assert torch.version.cuda is None, "a CUDA build of torch was installed"'
	touch $(STAMP)

env: $(STAMP)

book: $(STAMP)
	# 1. every chapter changed since it last passed here runs with its quick parameters, and every
	#    claim must hold (make test re-executes the full chapters and compares their numbers)
	$(BIN)/python -m ctdepth_lib verify --out _build/fresh/book --jobs $(JOBS)
	# 2. the HTML renders those committed outputs (execution is off in _config.yml), so the web
	#    pages and the PDF show one set of numbers
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python -m ctdepth_lib claims --build _build
	# 3. the PDF, rebuilt only when one of its inputs changed
	$(BIN)/python tools/make_pdf.py --path-output _build/pdf/html --if-changed
	@echo "The book is in _build/html/index.html (and as one PDF in _build/pdf/ctdepth.pdf)"

pdf: $(STAMP)
	$(BIN)/python tools/make_pdf.py
	@echo "The PDF is in _build/pdf/ctdepth.pdf"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	rm -rf _build/fresh
	# 1. unit tests, nbval (fresh full runs reproduce the committed outputs by the rules of
	#    ctdepth_lib/outputs.py), bad parameters, the committed seed sweep is current
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile tests --ignore=tests/browser \
	  $$($(BIN)/python -m ctdepth_lib toc) $(NBVAL) --ctdepth-fresh _build/fresh/native
	# 2. the foreign-numerics passes: every chapter validated again down each foreign path
	for path in $(FOREIGN_PATHS); do \
	  $(BIN)/python -m ctdepth_lib numerics $$path -- $(BIN)/python -m pytest -n $(JOBS) --dist loadfile \
	    $$($(BIN)/python -m ctdepth_lib toc) $(NBVAL) --ctdepth-fresh _build/fresh/$$path || exit 1; \
	done
	# 3. the book, rendered from the committed (nbval-checked) outputs, with -W -n
	$(BIN)/python tools/build_check.py
	# 4. the PDF of the whole book (reusing that build), then every page in headless Chromium,
	#    offline, every link of the HTML and the PDF's pages, figures and links
	$(BIN)/python tools/make_pdf.py --path-output _build/check
	$(BIN)/python -m pytest tests/browser
	# 5. the claims ledger: every claim holds in the committed outputs, and every fresh pass
	#    reproduce every committed value within the claim's tolerance
	$(BIN)/python -m ctdepth_lib claims --build _build/check/_build --fresh _build/fresh/native \
	  $(foreach path,$(FOREIGN_PATHS),--fresh _build/fresh/$(path))
	@echo "make test: all checks passed"

bench: $(STAMP)
	$(BIN)/python -m ctdepth_lib bench
	$(BIN)/python -m ctdepth_lib cost

audit: $(STAMP)
	$(BIN)/python -m ctdepth_lib audit-numerics --out _build/audit --jobs $(JOBS)

execute: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute NB=chapters/NAME.ipynb"; exit 2; }
	# the parameters cell is generated from ctdepth_lib/parameters.yaml
	$(BIN)/python -m ctdepth_lib params --write "$(NB)"
	$(BIN)/jupyter execute --inplace --timeout=900 "$(NB)"
	# no per-cell execution timestamps in a committed notebook: they make every re-execution a noisy diff
	$(BIN)/python -m ctdepth_lib strip "$(NB)"

clean:
	rm -rf _build
