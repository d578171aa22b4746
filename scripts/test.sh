#!/usr/bin/env bash
# Sets up everything the tests need (system services, .venv) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-system-deps.sh
scripts/setup.sh
.venv/bin/ruff check pipeline connectors tests bench run_pipeline.py
.venv/bin/mypy pipeline connectors tests bench run_pipeline.py
.venv/bin/python -m pytest "$@"
