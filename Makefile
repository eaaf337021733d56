# The two commands the README promises: `make demo` and `make test`. Both set up from nothing.
XVFB := xvfb-run -a -s "-screen 0 1600x1000x24"

.PHONY: setup demo test lint bench
setup:
	@bash scripts/setup.sh

# Opens the window on the bundled demo; on a machine without a screen it renders the window on a
# virtual one and saves demo-screenshot.png instead.
demo: setup
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then .venv/bin/usannotator --demo; \
	else echo "No screen: rendering the demo window to demo-screenshot.png"; \
	$(XVFB) .venv/bin/usannotator --demo --screenshot demo-screenshot.png; fi

test: setup
	.venv/bin/lint-imports
	$(XVFB) .venv/bin/python -m pytest -q -ra $(PYTEST_ARGS)

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(XVFB) .venv/bin/python $$b || exit 1; done
