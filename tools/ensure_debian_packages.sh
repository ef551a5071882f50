#!/usr/bin/env bash
# Make sure the Debian packages some tests run are installed:
#   chromium  headless rendering of report.html (tests/lab/modules/test_connector_tls_report_html.py)
#   jq        the jq lines of docs/reports.md (tests/gates/test_doc_examples.py)
# Nothing is done for a program already on PATH. Installing needs root (CI and this
# machine run as root).
set -euo pipefail

missing=()
for program in chromium jq; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_debian_packages: ${missing[*]} not installed, and installing needs root (apt-get install ${missing[*]})" >&2
    exit 1
fi

echo "ensure_debian_packages: installing the Debian packages ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
for program in "${missing[@]}"; do
    command -v "$program" >/dev/null 2>&1
done
