#!/usr/bin/env bash
# What the napari extra adds to an environment (README, "napari plugin"): two fresh virtual
# environments from this checkout, one with requirements.txt and the package, one with the
# napari extra too; their package counts and sizes, and PyQt6's share.
#   usage: bash benchmarks/install_size.sh [workdir]   (a few minutes; needs pip's index)
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-$(mktemp -d)}"
for v in base napari; do rm -rf "$W/$v"; python3 -m venv "$W/$v"; done
"$W/base/bin/pip" install -q -r requirements.txt .
"$W/napari/bin/pip" install -q -r requirements.txt ".[napari]"
for v in base napari; do
  echo "$v: $("$W/$v/bin/pip" list 2>/dev/null | tail -n +3 | wc -l) packages, $(du -sm "$W/$v" | cut -f1) MB"
done
echo "PyQt6: $(du -smc "$W"/napari/lib/python3*/site-packages/PyQt6* | tail -1 | cut -f1) MB"
