# make demo : set up .venv and build the demo dataset from the built-in sample world
# make test : set up .venv and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := ci/constraints.txt
EXTRAS ?= ray,beam,video,coco,edges,render,objaverse,onnx,curation,safety,audit,dev
DEMO_OUT ?= out/demo

.PHONY: venv sysdeps demo test bench bench-gpu clean

# System libraries for offscreen mesh rendering (software EGL) and the HTML-report browser test.
# Installed with apt-get when this is a Debian/Ubuntu machine and we are root; otherwise listed.
SYSDEPS := libegl1 libegl-mesa0 libgl1-mesa-dri
SYSDEPS_TEST := chromium

$(BIN)/uvd: pyproject.toml $(CONSTRAINTS) examples/uvd-plugin-example/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(PIP) install -q -c $(CONSTRAINTS) -e examples/uvd-plugin-example
	touch $(BIN)/uvd

venv: $(BIN)/uvd

sysdeps:
	@missing=""; for p in $(SYSDEPS) $(if $(filter test,$(MAKECMDGOALS)),$(SYSDEPS_TEST)); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing system packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing; tests that need them will skip or fail"; \
	else echo "note: mesh rendering needs system packages:$$missing (e.g. sudo apt-get install$$missing)"; fi

demo: venv sysdeps
	$(BIN)/uvd samples make data/samples
	$(BIN)/uvd run recipes/demo.yaml --out $(DEMO_OUT) --engine ray --workers 2
	$(BIN)/uvd verify $(DEMO_OUT)
	$(BIN)/uvd digest $(DEMO_OUT)

test: venv sysdeps
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q examples/uvd-plugin-example/tests

# Every CPU benchmark with the settings BENCHMARKS.md quotes (tens of minutes: the two scaling runs
# alone took 8 and 9 min on 2 quiet cores);
# each prints JSON. `make bench-gpu` is the tokenizer benchmark for a CUDA machine.
BENCH_OUT ?= bench-results
bench: venv sysdeps
	mkdir -p $(BENCH_OUT)
	$(BIN)/python bench/build_path.py --images 200 --rounds 5 > $(BENCH_OUT)/build_path.json
	$(BIN)/python bench/video_decode.py --rounds 9 > $(BENCH_OUT)/video_decode.json
	$(BIN)/python bench/orbit_render.py --rounds 5 > $(BENCH_OUT)/orbit_render.json
	$(BIN)/python bench/overlap.py --images 960 --rounds 3 > $(BENCH_OUT)/overlap.json
	$(BIN)/python bench/scaling.py --only scaling --images 1280 --rounds 3 > $(BENCH_OUT)/scaling.json
	$(BIN)/python bench/scaling.py --only memory,engines --rounds 3 > $(BENCH_OUT)/memory_engines.json
	$(BIN)/python bench/crash_trials.py --json $(BENCH_OUT)/crash_trials.json

bench-gpu: venv
	mkdir -p $(BENCH_OUT)
	$(BIN)/python bench/gpu_tokenize.py --images 2048 --batch-size 64 --rounds 3 > $(BENCH_OUT)/gpu_tokenize.json

clean:
	rm -rf out data/samples
