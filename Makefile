# Entry points of the README: each installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 4
# A train job's threads: the machine's CPUs, from 2 to the rule's 4. With fewer than 4 CPUs,
# `--cores 4` then trains two models side by side instead of one alone, which leaves a core idle
# half the time; a train job never runs more threads than there are CPUs, so the trained models
# are the same, byte for byte.
TRAIN_THREADS ?= $(shell n=$$(nproc 2>/dev/null || echo 4); echo $$(( n < 2 ? 2 : n > 4 ? 4 : n )))

.PHONY: run test test-fast bench results report dag lock clean-venv

PIP_VERSION := 26.3
UV_VERSION := 0.13.9
# Install from the lock files: every package, what the pinned ones pull in included, at the
# version and with the hashes `make lock` recorded (--no-deps: nothing outside the lock comes in).
# Reinstall only when a lock file changes.
$(BIN)/.installed-run: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

$(BIN)/.installed-dev: requirements-dev.lock $(BIN)/.installed-run
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

# The lock files from requirements*.txt, with uv in a venv of its own (it is no dependency of
# the pipeline). The dev lock is constrained by the run lock, so the two agree.
lock:  ## requirements.lock and requirements-dev.lock afresh from requirements*.txt
	test -x $(VENV)-lock/bin/uv || ($(PYTHON) -m venv $(VENV)-lock && $(VENV)-lock/bin/pip install --quiet uv==$(UV_VERSION))
	$(VENV)-lock/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock requirements.txt
	$(VENV)-lock/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -c requirements.lock -o requirements-dev.lock requirements-dev.txt

run: $(BIN)/.installed-run  ## the whole workflow, with the shipped config
	$(BIN)/snakemake --cores $(CORES) --set-threads train=$(TRAIN_THREADS)

report: $(BIN)/.installed-run  ## the HTML report of the last run
	$(BIN)/snakemake --report report.html

test: $(BIN)/.installed-dev  ## every test, the real-MNIST tier included
	$(BIN)/python -m pytest

test-fast: $(BIN)/.installed-dev  ## skip the real-MNIST and SLURM tiers
	$(BIN)/python -m pytest -m "not realdata and not slurm"

bench: $(BIN)/.installed-run  ## the benchmark on real MNIST (every shipped experiment, seeds 0 1 2), then docs/results.md
	$(BIN)/python bench/benchmark.py --experiments default notebook n2d n2d-self n2d-recluster --cores $(CORES) \
		--train-threads $(TRAIN_THREADS) --json bench/records/mnist.json
	$(BIN)/python bench/results_page.py

results: $(BIN)/.installed-run  ## docs/results.md from the records in bench/records/
	$(BIN)/python bench/results_page.py

dag: $(BIN)/.installed-run  ## the rule graph for the README, as mermaid
	$(BIN)/snakemake --rulegraph mermaid-js --quiet all

clean-venv:
	rm -rf $(VENV)
