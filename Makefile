# Two commands on a fresh machine: `make demo` and `make test`. Both set up first; setup is idempotent.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := realsense,train,sim,export,edge,scale,view,test,dev

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/system-packages.sh
	bash scripts/system-packages.sh
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

# The whole loop in simulation (no hardware): record transfer-cube demonstrations with planted faults,
# check, split, train ACT on the passing episodes, evaluate it (13-22 min on a 2-core CPU; see README).
# Each run writes a new folder (recorded data is never overwritten); DEMO_ARGS scales it up, e.g.
# make demo DEMO_ARGS="--episodes 50 --train-minutes 60 --device cuda".  DEMO_DIR=... resumes a run.
DEMO_DIR ?= demo-data/$(shell date +%Y%m%d-%H%M%S)
DEMO_ARGS ?=
demo: setup
	MUJOCO_GL=$${MUJOCO_GL:-egl} $(BIN)/demoforge demo --out $(DEMO_DIR) $(DEMO_ARGS)

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
