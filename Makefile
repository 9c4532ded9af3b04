# Two commands on a fresh machine: `make demo` and `make test`. Both set up first; setup is idempotent.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := realsense,train,sim,export,test,dev

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/system-packages.sh
	bash scripts/system-packages.sh
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

# The whole loop that exists so far, on the virtual rig (no hardware): record 8 episodes, three of them
# with planted defects (an operator pause, dropped frames, a frozen camera), check, split.
# Each run records into a new folder: recorded data is never overwritten.
DEMO_DIR ?= demo-data/$(shell date +%Y%m%d-%H%M%S)
demo: setup
	$(BIN)/demoforge record --rig virtual --dataset $(DEMO_DIR) --episodes 8 --episode-time 4 --reset-time 0.5 \
		--label success --task "virtual demo" --unattended \
		--inject pause@1:1.0+1.2 --inject drop.cam_high@3:2.0+0.1 --inject freeze.cam_left_wrist@4:1.5+0.6
	$(BIN)/demoforge check $(DEMO_DIR) --unattended
	$(BIN)/demoforge split $(DEMO_DIR) --val 0.2 --holdout 1
	@echo "report: $(DEMO_DIR)/quality/report.html   splits: $(DEMO_DIR)/splits.json"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) demo-data
