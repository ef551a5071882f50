# The README's two commands are `make demo` and `make test`; .ci/run calls `make test`. Every target installs
# what it needs into a virtual environment first. Tests are selected by directory (docs/development.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# ansible-core 2.21 needs Python 3.12; the second leg runs ansible-core 2.19 on Python 3.11. pyenv's shims (CI's
# machines) run a version only when it is selected: select the newest 3.12 and 3.11 installed, if any.
export PYENV_VERSION ?= $(subst $() ,:,$(foreach v,3.12 3.11,$(notdir $(lastword $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(v).*))))))
PYTHON ?= python3.12
PYTHON_LEGACY ?= python3.11
VENV := .venv
VENV_LEGACY := .venv-2.19
# worksteal: test durations range from milliseconds to 20 s; with xdist's default one worker ran a long tail alone.
PYTEST_ARGS ?= -n 2 --dist worksteal
# Both legs run what depends on ansible-core; the lab's own tests and the pure-Python gates run on the current leg only.
TESTS_LEGACY := tests/unit tests/lab/modules tests/lab/roles tests/lab/playbooks tests/lab/integration \
	tests/gates/test_plugin_docs.py tests/gates/test_module_docs.py tests/gates/test_galaxy_install.py
TESTS_CURRENT := tests $(wildcard lab/tests)
ARTIFACTS := test-artifacts

.PHONY: help venv venv-legacy demo test test-current test-legacy reliability-table reliability-docs debian-packages \
	bench clean lint lint-fast lint-sanity lint-sanity-legacy lint-units lint-ansible lint-changelog

help:
	@echo "make demo   - start the Exchange lab on tests/scenarios/demo.yml and run the demo playbooks"
	@echo "make test   - the offline suite: ansible-core 2.21 on Python 3.12, then 2.19 on Python 3.11; writes only $(ARTIFACTS)/"
	@echo "make lint   - every quality gate: ansible-test sanity (2.21 and 2.19) and units, ansible-lint, changelog lint"
	@echo "make bench  - the fleet benchmark (minutes; not part of make test); make reliability-docs - copy the last table to docs/"

# make-venv INTERPRETER,DIR,REQUIREMENTS; a venv is refreshed when its requirements or the lab's packaging change.
define make-venv
	@command -v $(1) >/dev/null && $(1) -V >/dev/null 2>&1 || { echo "$(1) not found: install it (pyenv install $(subst python,,$(1))) or pass PYTHON=/path/to/python3.12 PYTHON_LEGACY=/path/to/python3.11"; exit 1; }
	$(1) -m venv $(2) && $(2)/bin/python -m pip install -q --upgrade pip && $(2)/bin/python -m pip install -q -r $(3)
	$(2)/bin/python -m pip install -q --no-deps -e lab && $(2)/bin/python tools/link_collection.py && touch $(2)/.stamp
endef
$(VENV)/.stamp: requirements/ansible-2.21.txt requirements/common.txt lab/pyproject.toml
	$(call make-venv,$(PYTHON),$(VENV),requirements/ansible-2.21.txt)
$(VENV_LEGACY)/.stamp: requirements/ansible-2.19.txt requirements/common.txt lab/pyproject.toml
	$(call make-venv,$(PYTHON_LEGACY),$(VENV_LEGACY),requirements/ansible-2.19.txt)
$(VENV)/.lint-stamp: $(VENV)/.stamp requirements/lint.txt  # ansible-lint resolved with the leg's pins
	$(VENV)/bin/python -m pip install -q -r requirements/lint.txt -r requirements/ansible-2.21.txt && touch $@
venv: $(VENV)/.stamp
venv-legacy: $(VENV_LEGACY)/.stamp

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/demo.py

# Both legs run even when the first fails, so one CI run reports both; so do the fast lint gates.
test: venv venv-legacy debian-packages
	@rc=0; for t in test-current test-legacy reliability-table lint-fast; do $(MAKE) --no-print-directory $$t || rc=1; done; exit $$rc
# leg VENV,NAME,TESTS,EXTRA: one recipe for both legs; each records its rows of the reliability table.
define leg
	@echo "=== ansible-core $$($(1)/bin/python -c 'import ansible.release as r; print(r.__version__)') on $$($(1)/bin/python -V)"
	@mkdir -p $(ARTIFACTS) && rm -f $(ARTIFACTS)/reliability-$(2).json
	PATH="$(CURDIR)/$(1)/bin:$$PATH" $(1)/bin/python -m pytest $(PYTEST_ARGS) $(4) --reliability-out $(ARTIFACTS)/reliability-$(2).json $(3)
endef
test-current: venv
	$(call leg,$(VENV),current,$(TESTS_CURRENT),)
test-legacy: venv-legacy
	$(call leg,$(VENV_LEGACY),legacy,$(TESTS_LEGACY),-m "not current_leg_only")
# The page with this run's table goes to test-artifacts/; make reliability-docs copies it into docs/ for a release.
reliability-table: venv
	$(VENV)/bin/python tools/reliability_table.py --out $(ARTIFACTS)/reliability.md docs/reliability.md $(ARTIFACTS)/reliability-current.json $(ARTIFACTS)/reliability-legacy.json
reliability-docs:
	cp $(ARTIFACTS)/reliability.md docs/reliability.md

debian-packages:  # chromium renders report.html, jq runs docs/reports.md's lines
	@bash tools/ensure_debian_packages.sh || echo "warning: chromium or jq missing; the tests that need them fail under CI and skip otherwise"
bench: venv  # docs/performance.md; BENCH_ARGS="--sizes 50 --latencies 0" for a quick one
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python -m bench.run --doc docs/performance.md $(BENCH_ARGS)
clean:
	rm -rf $(VENV) $(VENV_LEGACY) .pytest_cache .hypothesis $(ARTIFACTS)

# Quality gates (docs/development.md); every gate runs even when one fails.
lint: $(VENV)/.lint-stamp venv-legacy
	@rc=0; for g in lint-sanity lint-sanity-legacy lint-units lint-ansible lint-changelog; do $(MAKE) --no-print-directory $$g || { rc=1; echo "=== FAILED: $$g"; }; done; exit $$rc
lint-fast: $(VENV)/.lint-stamp
	@rc=0; for g in lint-ansible lint-changelog; do $(MAKE) --no-print-directory $$g || rc=1; done; exit $$rc
# ansible-test runs on a copy laid out as ansible_collections/exchange/transport_tls (tools/run_ansible_test.py); no pwsh here.
lint-sanity: venv
	$(VENV)/bin/python tools/run_ansible_test.py sanity --venv --skip-test pslint
lint-sanity-legacy: venv-legacy
	$(VENV_LEGACY)/bin/python tools/run_ansible_test.py sanity --venv --skip-test pslint
lint-units: venv  # --local: the unit tests need .venv's packages (cryptography, hypothesis, tree-sitter)
	$(VENV)/bin/python tools/run_ansible_test.py units --local --python $$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
lint-ansible: $(VENV)/.lint-stamp  # the whole collection as Galaxy's importer lints it; awx.awx for docs/examples/deployment/
	awx="$$($(VENV)/bin/python tools/fetch_awx.py)" && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$$awx" $(VENV)/bin/ansible-lint --offline
lint-changelog: venv  # fragments lint, and CHANGELOG.md is what changelogs/changelog.yaml generates
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/check_changelog.py
