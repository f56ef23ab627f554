#!/usr/bin/env sh
# Known vulnerabilities in the locked dependencies (requirements.lock), with pip-audit.
#   deploy/audit.sh                 PyPI's vulnerability data (the JSON API: pypi.org)
#   deploy/audit.sh -s osv          the OSV database instead (api.osv.dev)
#   deploy/audit.sh --format json   anything else is passed to pip-audit
# It needs to reach that database: --strict makes a package it could not look up a failure,
# so a machine that cannot reach it fails here instead of passing in silence. pip-audit is
# pinned and installed into a throw-away virtual environment, like deploy/lock.sh's uv.
# Run it after every change of the lock, and weekly (README, "Security").
set -eu
cd "$(dirname "$0")/.."
PIP_AUDIT_VERSION=2.10.1
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/pip" install -q --disable-pip-version-check "pip-audit==$PIP_AUDIT_VERSION"
# --no-deps --disable-pip: the lock names every distribution with its version, so nothing
# is resolved or installed; only the versions are looked up.
"$tool/bin/pip-audit" -r requirements.lock --no-deps --disable-pip --strict --progress-spinner off "$@"
