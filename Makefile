# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed
# Optional: Apache Airflow beside the same TFX in its own environment (README, "Running at scale").
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

.PHONY: run test lint lock airflow lock-airflow bench clean

$(STAMP): requirements.lock setup.py scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

run: $(STAMP)
	$(VENV)/bin/shipyard run image-classification

# Two pytest workers, one test file (or group of files, tests/conftest.py) each at a time:
# most of a test's time is single-threaded (tracing, TFX and Beam orchestration), so two files
# overlap well on 2 cores.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Re-resolve requirements.in into the lock file (needs the venv's uv).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements.in -o requirements.lock --python-version 3.10

airflow: $(AIRFLOW_STAMP)

$(AIRFLOW_STAMP): requirements-airflow.lock setup.py scripts/bootstrap.sh
	bash scripts/bootstrap.sh $(AIRFLOW_VENV) requirements-airflow.lock
	touch $@

# Re-resolve requirements-airflow.in, starting from the main lock's versions so that only what
# Airflow forces moves (uv prefers the pins already in the output file).
lock-airflow: $(STAMP)
	cp requirements.lock requirements-airflow.lock
	$(VENV)/bin/uv pip compile requirements-airflow.in -o requirements-airflow.lock --python-version 3.10

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.trainer_overhead
	$(VENV)/bin/python -m benchmarks.serving_overhead

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) shipyard-output
