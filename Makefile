# Shortcuts for scripts/bootstrap.sh, which does all the set-up.
.PHONY: setup run test bench lint i18n-extract i18n-update
setup:
	bash scripts/bootstrap.sh setup
run:
	bash scripts/bootstrap.sh run
test:
	bash scripts/bootstrap.sh test
bench: setup
	.venv/bin/python -m benchmarks
lint: setup
	bash .ci/lint
# Message catalogues (engine/locale/README.md): collect the msgids of engine/messages.py
# into the template, then merge the template into every language's .po file.
i18n-extract: setup
	.venv/bin/pybabel extract -F babel.cfg -k N_ -k Np_:1,2 --no-default-keywords --sort-by-file \
		--project hugginggpt-bot --version 0.1.0 --copyright-holder "hugginggpt-bot contributors" \
		-o engine/locale/hugginggpt_bot.pot .
i18n-update: i18n-extract
	.venv/bin/pybabel update -i engine/locale/hugginggpt_bot.pot -d engine/locale -D hugginggpt_bot \
		--width 100 --no-fuzzy-matching --ignore-obsolete
