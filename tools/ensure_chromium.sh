#!/usr/bin/env bash
# Make sure headless Chromium is installed for tests/lab/test_report_html_render.py.
# Chromium comes from the Debian package `chromium` (no browser download of its own);
# nothing is done when it is already on PATH. Needs root (CI and this machine run as root).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: chromium is not installed and installing it needs root (apt-get install chromium)" >&2
    exit 1
fi

echo "ensure_chromium: installing the Debian package chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
command -v chromium >/dev/null 2>&1
