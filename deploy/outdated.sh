#!/usr/bin/env sh
# Early warning of new releases (not part of CI): lists every pin of requirements.lock that the
# registry serves a newer release of, within pyproject.toml's ranges. Changes nothing; to take
# them, deploy/lock.sh --upgrade (or --upgrade-package NAME), then run the tests.
set -eu
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tool=$(mktemp -d)
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool"
"$tool/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
"$tool/bin/uv" pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
  --upgrade --no-header --no-annotate --quiet -o "$tool/latest.txt"
pins() { grep -E '^[A-Za-z0-9]' "$1" | sed 's/ *;.*//' | sort; }
pins requirements.lock > "$tool/locked"
pins "$tool/latest.txt" > "$tool/latest"
if cmp -s "$tool/locked" "$tool/latest"; then
  echo "requirements.lock is current: the registry serves nothing newer within pyproject.toml's ranges"
else
  echo "newer releases (- locked, + latest):"
  diff "$tool/locked" "$tool/latest" | grep '^[<>]' | sed 's/^</-/; s/^>/+/'
  exit 1
fi
