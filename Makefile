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
# A foreign rounding path for the second nbval pass: MKL's conditional-numerical-reproducibility
# baseline, one OpenMP thread and ATen's non-vectorised kernels each change float64 results in
# their last digits (tests/test_foreign_numerics.py shows it), as another CPU does.
FOREIGN := MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default
NBVAL := -p ctdepth_lib.book.nbval_plugin --nbval
TORCH_WHEEL ?=
export TORCH_WHEEL

.PHONY: help env book pdf test lint unit notebooks build-check ledger bench execute clean

help:
	@echo "make book    install (if needed), execute and render the book to _build/html"
	@echo "make pdf     install (if needed) and write the whole book as one PDF, _build/pdf/ctdepth.pdf"
	@echo "make test    install (if needed) and run every check (ruff, unit, nbval native + foreign numerics, papermill, book build, ledger)"
	@echo "make bench   print the benchmark figures (resnet_unroll vs torchdiffeq; gradient memory/time)"
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
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python -m ctdepth_lib claims --build _build
	$(BIN)/python tools/make_pdf.py --path-output _build/pdf/html
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
	# 2. the foreign-numerics pass: every chapter validated again on another rounding path
	$(FOREIGN) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile \
	  $$($(BIN)/python -m ctdepth_lib toc) $(NBVAL) --ctdepth-fresh _build/fresh/foreign
	# 3. the book, rendered from the committed (nbval-checked) outputs, with -W -n
	$(BIN)/python tools/build_check.py
	# 4. the PDF of the whole book (reusing that build), then every page in headless Chromium,
	#    offline, every link of the HTML and the PDF's pages, figures and links
	$(BIN)/python tools/make_pdf.py --path-output _build/check
	$(BIN)/python -m pytest tests/browser
	# 5. the claims ledger: every claim holds in the committed outputs, and both fresh passes
	#    reproduce every committed value within the claim's tolerance
	$(BIN)/python -m ctdepth_lib claims --build _build/check/_build --fresh _build/fresh/native --fresh _build/fresh/foreign
	@echo "make test: all checks passed"

bench: $(STAMP)
	$(BIN)/python -m ctdepth_lib bench
	$(BIN)/python -m ctdepth_lib cost

execute: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make execute NB=chapters/NAME.ipynb"; exit 2; }
	$(BIN)/jupyter execute --inplace --timeout=900 "$(NB)"
	# no per-cell execution timestamps in a committed notebook: they make every re-execution a noisy diff
	$(BIN)/python -m ctdepth_lib strip "$(NB)"

clean:
	rm -rf _build
