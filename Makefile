# The README's two commands are `make demo` and `make test`; .ci/run calls `make test`.
# Every target installs what it needs into a virtual environment first: nothing
# installed by hand is assumed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# python3.12 when it runs (ansible-core 2.21 needs >= 3.12), else python3.
# pyenv installs a python3.12 shim that fails unless 3.12 is selected, so the
# interpreter is probed by running it, and pyenv's versions dirs are tried too
# (PYENV_ROOT, `pyenv root`, ~/.pyenv, and the root above the python3.12 shim:
# CI's environment may lack some of them).
PYENV_SHIM := $(shell command -v python3.12 2>/dev/null)
PYENV_DIRS := $(sort $(PYENV_ROOT) $(shell pyenv root 2>/dev/null) $(HOME)/.pyenv \
	$(if $(PYENV_SHIM),$(abspath $(dir $(PYENV_SHIM))..)))
PYTHON312 := $(shell for p in python3.12 $$(ls -d $(addsuffix /versions/3.12*/bin/python3.12,$(PYENV_DIRS)) 2>/dev/null | sort -V | tail -1); do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
PYTHON ?= $(if $(PYTHON312),$(PYTHON312),python3)
# The second matrix leg: the newest ansible-core that python3 (3.11) supports.
PYTHON_LEGACY ?= python3

VENV := .venv
VENV_LEGACY := .venv-2.19
# Without Python 3.12 the newest ansible-core that installs is 2.19: .venv then
# gets it too (and says so) rather than failing to install.
REQS := $(if $(PYTHON312),requirements/ansible-2.21.txt,requirements/ansible-2.19.txt)
REQS_LEGACY := requirements/ansible-2.19.txt
# worksteal, not xdist's default load: test durations range from milliseconds to 20 s, and with
# load one worker was left running a long tail alone (the 2.21 leg: 7:55 with load, 6:05 with worksteal).
PYTEST_ARGS ?= -n 2 --dist worksteal
# Each leg records the rows of docs/reliability.md it produced (tests/reliability.py).
RELIABILITY_CURRENT := test-artifacts/reliability-current.json
RELIABILITY_LEGACY := test-artifacts/reliability-legacy.json

.PHONY: help venv venv-legacy debian-packages demo test test-current test-legacy clean bench \
	lint lint-fast lint-sanity lint-sanity-legacy lint-units lint-ansible lint-changelog

help:
	@echo "make demo   - start the Exchange lab on tests/scenarios/demo.yml and run the demo playbooks"
	@echo "make test   - run the whole offline suite (ansible-core 2.21 on Python 3.12, then 2.19 on Python 3.11)"
	@echo "make lint   - every quality gate: ansible-test sanity (2.21 and 2.19) and units, ansible-lint, changelog lint"
	@echo "make venv   - create or refresh .venv only"
	@echo "make bench  - the fleet benchmark (not part of make test): N=50,200 servers, forks 50, L=5,0 s;"
	@echo "              writes bench-results/<timestamp>.json and the table in docs/performance.md"

# make-venv INTERPRETER,DIR,REQUIREMENTS: one recipe for both matrix legs.
define make-venv
	@$(1) -c 'import sys; print("creating $(2) with Python", sys.version.split()[0], "and $(3)")'
	$(1) -m venv $(2)
	$(2)/bin/python -m pip install -q --upgrade pip
	$(2)/bin/python -m pip install -q -r $(3)
	$(2)/bin/python -m pip install -q --no-deps -e lab
	$(2)/bin/python tools/link_collection.py
	touch $(2)/.stamp
endef

# A venv is refreshed when its requirements or the lab's packaging change.
$(VENV)/.stamp: $(REQS) requirements/common.txt lab/pyproject.toml
	$(if $(PYTHON312),,@echo "warning: no working python3.12 found; .venv gets ansible-core 2.19 and 2.21 is not tested")
	$(call make-venv,$(PYTHON),$(VENV),$(REQS))

$(VENV_LEGACY)/.stamp: $(REQS_LEGACY) requirements/common.txt lab/pyproject.toml
	$(call make-venv,$(PYTHON_LEGACY),$(VENV_LEGACY),$(REQS_LEGACY))

# ansible-lint goes into .venv with the leg's requirements in one resolve, so
# ansible-core stays at its pin.
$(VENV)/.lint-stamp: $(VENV)/.stamp requirements/lint.txt
	$(VENV)/bin/python -m pip install -q -r requirements/lint.txt -r $(REQS)
	touch $@

venv: $(VENV)/.stamp
venv-legacy: $(VENV_LEGACY)/.stamp

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/demo.py

# Both legs run even when the first fails, so one CI run reports both; the
# fast lint gates (a few seconds) run too. The slow ones are in `make lint`.
test: venv venv-legacy debian-packages
	@rc=0; \
	$(MAKE) --no-print-directory test-current || rc=1; \
	$(MAKE) --no-print-directory test-legacy || rc=1; \
	$(VENV)/bin/python tools/reliability_table.py docs/reliability.md $(RELIABILITY_CURRENT) $(RELIABILITY_LEGACY) || rc=1; \
	$(MAKE) --no-print-directory lint-fast || rc=1; \
	exit $$rc

# Debian packages some tests run: chromium renders report.html, jq runs docs/reports.md's lines.
debian-packages:
	@bash tools/ensure_debian_packages.sh || echo "warning: chromium or jq missing; the tests that need them fail under CI and skip otherwise"

test-current: venv
	@echo "=== ansible-core $$($(VENV)/bin/python -c 'import ansible.release as r; print(r.__version__)') on $$($(VENV)/bin/python -V)"
	@rm -f $(RELIABILITY_CURRENT)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python -m pytest $(PYTEST_ARGS) --reliability-out $(RELIABILITY_CURRENT)

test-legacy: venv-legacy
	@echo "=== ansible-core $$($(VENV_LEGACY)/bin/python -c 'import ansible.release as r; print(r.__version__)') on $$($(VENV_LEGACY)/bin/python -V)"
	@rm -f $(RELIABILITY_LEGACY)
	PATH="$(CURDIR)/$(VENV_LEGACY)/bin:$$PATH" $(VENV_LEGACY)/bin/python -m pytest $(PYTEST_ARGS) -m "not current_leg_only" --reliability-out $(RELIABILITY_LEGACY)

# The fleet benchmark (docs/performance.md): about 15 minutes on 2 cores. Not part of `make test`:
# its figures are measurements to read, not pass/fail checks. BENCH_ARGS="--sizes 50 --latencies 0" for a quick one.
BENCH_ARGS ?=
bench: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python -m bench.run --doc docs/performance.md $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(VENV_LEGACY) .pytest_cache .hypothesis

# Quality gates (docs/development.md). Every gate runs even when one fails.
LINT_GATES := lint-sanity lint-sanity-legacy lint-units lint-ansible lint-changelog
lint: $(VENV)/.lint-stamp venv-legacy
	@rc=0; failed=; \
	for gate in $(LINT_GATES); do \
		$(MAKE) --no-print-directory $$gate || { rc=1; failed="$$failed $$gate"; }; \
	done; \
	if [ $$rc = 0 ]; then echo "=== make lint: all gates passed"; else echo "=== make lint: FAILED:$$failed"; fi; \
	exit $$rc

lint-fast: $(VENV)/.lint-stamp
	@rc=0; \
	$(MAKE) --no-print-directory lint-ansible || rc=1; \
	$(MAKE) --no-print-directory lint-changelog || rc=1; \
	exit $$rc

# ansible-test runs on a copy laid out as ansible_collections/exchange/transport_tls
# (tools/run_ansible_test.py). pslint needs pwsh, which is not available.
SANITY_ARGS ?= --venv --skip-test pslint
lint-sanity: venv
	@echo "=== ansible-test sanity (ansible-core $$($(VENV)/bin/python -c 'import ansible.release as r; print(r.__version__)'))"
	$(VENV)/bin/python tools/run_ansible_test.py sanity $(SANITY_ARGS)

lint-sanity-legacy: venv-legacy
	@echo "=== ansible-test sanity (ansible-core $$($(VENV_LEGACY)/bin/python -c 'import ansible.release as r; print(r.__version__)'))"
	$(VENV_LEGACY)/bin/python tools/run_ansible_test.py sanity $(SANITY_ARGS)

# --local: the unit tests need .venv's packages (cryptography, hypothesis, tree-sitter).
lint-units: venv
	@echo "=== ansible-test units"
	$(VENV)/bin/python tools/run_ansible_test.py units --local --python $$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The whole collection, as Galaxy's importer lints it (galaxy.yml, meta/, the changelog, docs/examples
# included); .ansible-lint leaves out the development tooling.
lint-ansible: $(VENV)/.lint-stamp
	@echo "=== ansible-lint (production profile, .ansible-lint)"
	@# awx.awx, for docs/examples/deployment/awx-job-templates.yml (tools/fetch_awx.py).
	awx="$$($(VENV)/bin/python tools/fetch_awx.py)" && \
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$$awx" $(VENV)/bin/ansible-lint --offline

# Fragments lint, and CHANGELOG.md is what changelogs/changelog.yaml generates (tools/check_changelog.py).
lint-changelog: venv
	@echo "=== changelog (antsibull-changelog)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/check_changelog.py
