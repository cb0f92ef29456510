# make demo : set up .venv and build the demo dataset from the built-in sample world
# make test : set up .venv and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := ci/constraints.txt
EXTRAS ?= ray,beam,video,coco,render,dev
DEMO_OUT ?= out/demo

.PHONY: venv demo test bench clean

$(BIN)/uvd: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	touch $(BIN)/uvd

venv: $(BIN)/uvd

demo: venv
	$(BIN)/uvd samples make data/samples
	$(BIN)/uvd run recipes/demo.yaml --out $(DEMO_OUT) --engine ray --workers 2
	$(BIN)/uvd verify $(DEMO_OUT)
	$(BIN)/uvd digest $(DEMO_OUT)

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/build_path.py

clean:
	rm -rf out data/samples
