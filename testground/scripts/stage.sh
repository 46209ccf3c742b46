#!/usr/bin/env bash
# stage.sh DEST — a self-contained copy of floe's testground plan, for
# `testground plan import --from DEST --name floe`.
#
# testground's exec:go and docker:go builders copy only the plan folder,
# and the plan (module floe/testground) reaches floe through
# `replace floe => ../`. The staged copy is the plan with floe's sources
# inside it (DEST/floe: the root module without testground/, .git,
# node_modules, testdata and built binaries) and the replace pointing there.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd) # testground/
root=$(cd "$here/.." && pwd)
dest=$1
case "$dest" in
  "" | / | "$root" | "$here") echo "stage.sh: refusing to stage into $dest" >&2; exit 2 ;;
esac
rm -rf "$dest"
mkdir -p "$dest/floe"
tar -C "$here" --exclude=./scripts/out -cf - . | tar -C "$dest" -xf -
tar -C "$root" --exclude=./testground --exclude=./.git --exclude=./.ci \
  --exclude=node_modules --exclude=testdata --exclude=./floe \
  -cf - . | tar -C "$dest/floe" -xf -
# Resolve the module graph here, where the module proxy is reachable:
# the builder runs `go mod tidy` and `go list -m all` in the copy, which
# then need nothing beyond the module cache.
(cd "$dest" && go mod edit -replace floe=./floe && go mod tidy && go list -m all > /dev/null)
echo "staged the plan in $dest ($(du -sh "$dest" | cut -f1))"
