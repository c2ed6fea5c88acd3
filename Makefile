# Shortcuts for scripts/bootstrap.sh, which does all the set-up.
.PHONY: setup run test bench lint
setup:
	bash scripts/bootstrap.sh setup
run:
	bash scripts/bootstrap.sh run
test:
	bash scripts/bootstrap.sh test
bench: setup
	.venv/bin/python -m benchmarks
lint: setup
	.venv/bin/ruff check bot engine adapters tests benchmarks
	.venv/bin/mypy engine adapters
