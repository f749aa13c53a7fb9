# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint lock bench clean

$(STAMP): requirements.lock setup.py scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	touch $@

run: $(STAMP)
	$(VENV)/bin/shipyard run image-classification

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Re-resolve requirements.in into the lock file (needs the venv's uv).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile requirements.in -o requirements.lock --python-version 3.10

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.trainer_overhead
	$(VENV)/bin/python -m benchmarks.serving_overhead

clean:
	rm -rf $(VENV) shipyard-output
