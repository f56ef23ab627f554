#!/usr/bin/env sh
# Regenerate requirements.lock, the one locked set of versions the README, .ci/run and the
# Dockerfile install (runtime, dev and bench extras, for Python 3.11 on every platform).
#   deploy/lock.sh                          after a change of pyproject.toml: keeps every other pin
#   deploy/lock.sh --upgrade-package redis  upgrade one distribution on purpose
#   deploy/lock.sh --upgrade                upgrade everything on purpose
# Then run the tests (README) before committing the new lock. uv resolves; it is pinned here
# and installed into a throw-away virtual environment, so nothing else on the machine changes.
set -eu
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
"$tool/bin/uv" pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
  --custom-compile-command "deploy/lock.sh" --quiet -o requirements.lock "$@"
echo "requirements.lock: $(grep -c '==' requirements.lock) pinned distributions"
