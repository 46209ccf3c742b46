#!/usr/bin/env bash
# testground.sh [COMPOSITION] — run a composition of floe's plan on a real
# testground v0.6.0 daemon (builder exec:go, runner local:exec) with the
# in-memory sync service v0.1.0, then print its figures with floe-tg table.
#
#   sudo testground/scripts/testground.sh compositions/smoke.toml
#
# Everything runs inside a network namespace that the script makes and
# deletes (only its loopback exists there): the sync service binds :5050
# on every interface and the daemon wants port 6379 free, so neither may
# touch the machine's own network. Needs root for that namespace.
#
# Work directory: $FLOE_TG_WORK (default ${TMPDIR:-/tmp}/floe-testground):
# bin/ (testground and sync-service, built once from the module proxy:
# about 3 minutes cold), home/ ($TESTGROUND_HOME), plan/ (the staged plan,
# see stage.sh), *.log. Every process it starts it stops by PID.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd) # testground/
comp=$(realpath "${1:-$here/compositions/smoke.toml}")
work=${FLOE_TG_WORK:-${TMPDIR:-/tmp}/floe-testground}
export GOTOOLCHAIN=local
tg_version=v0.6.0
sync_version=v0.1.0
sdk_version=v0.3.1-0.20220525111316-b6b10897b578

if [ "$(id -u)" -ne 0 ]; then
  echo "testground.sh: needs root (it runs the daemon in a network namespace of its own)" >&2
  exit 2
fi
mkdir -p "$work/bin" "$work/home"
work=$(realpath "$work")

# 1. The binaries, built once.
if [ ! -x "$work/bin/testground" ] || [ ! -x "$work/bin/sync-service" ]; then
  echo "building testground $tg_version and sync-service $sync_version in $work/tools"
  mkdir -p "$work/tools"
  (
    cd "$work/tools"
    [ -f go.mod ] || go mod init floe-testground-tools >/dev/null 2>&1
    cat > tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/testground/sync-service/cmd"
	_ "github.com/testground/testground"
)
EOF
    go get "github.com/testground/testground@$tg_version" "github.com/testground/sync-service@$sync_version"
    go mod tidy
    go build -o "$work/bin/testground" github.com/testground/testground
    go build -o "$work/bin/sync-service" github.com/testground/sync-service/cmd
  )
fi

# 2. The staged plan (exec:go copies only the plan folder).
"$here/scripts/stage.sh" "$work/plan"
# The plan pins sdk-go at the commit testground v0.6.0 pins (its
# --disable-metrics works only with that one).
grep -q "github.com/testground/sdk-go $sdk_version" "$work/plan/go.mod"

# 3. The namespace, the sync service and the daemon.
ns="floetg$$"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # env execs too, so each PID is the program's; check it is gone.
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up

export TESTGROUND_HOME="$work/home"
cat > "$TESTGROUND_HOME/.env.toml" <<'EOF'
[daemon]
listen = "127.0.0.1:8042"

[client]
endpoint = "http://127.0.0.1:8042"
EOF

inns() { ip netns exec "$ns" "$@"; }
wait_port() { # wait_port PORT WHAT: up to 60 s
  for _ in $(seq 600); do
    if inns bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "testground.sh: $2 did not listen on 127.0.0.1:$1" >&2
  return 1
}

# Started with `ip netns exec` directly (not through a shell function, whose
# subshell would be what $! names): ip execs the program, so $! is its PID.
ip netns exec "$ns" "$work/bin/sync-service" > "$work/sync-service.log" 2>&1 &
pids+=($!)
wait_port 5050 "the sync service"
# The daemon builds the plan offline (GOPROXY=off: the module cache
# has everything the staged plan needs).
ip netns exec "$ns" env GOPROXY=off GOFLAGS=-mod=mod "$work/bin/testground" daemon > "$work/daemon.log" 2>&1 &
pids+=($!)
wait_port 8042 "the testground daemon"

# 4. Import and run. The composition sets disable_metrics (no InfluxDB).
tg() { inns "$work/bin/testground" "$@"; }
tg plan import --from "$work/plan" --name floe > "$work/import.log" 2>&1 || { cat "$work/import.log"; exit 1; }
start=$(date +%s)
set +e
tg run composition -f "$comp" --wait 2>&1 | tee "$work/run.log"
set -e
echo "testground run took $(( $(date +%s) - start )) s"
run_id=$(sed 's/\x1b\[[0-9;]*m//g' "$work/run.log" | grep -oE 'queued with ID: [a-z0-9]+' | awk '{print $4}' | tail -1 || true)
if [ -z "$run_id" ]; then
  echo "testground.sh: no run ID in the run's output" >&2
  exit 1
fi
outputs="$TESTGROUND_HOME/data/outputs/local_exec/floe/$run_id"
echo "run $run_id: outputs in $outputs"
# The outcome of every instance, as the daemon recorded it in run.out.
failed=0
total=0
for d in "$outputs"/*/*/; do
  total=$((total + 1))
  if ! grep -q '"success_event"' "$d/run.out" 2>/dev/null; then
    echo "instance ${d#"$outputs"/} did not succeed" >&2
    failed=$((failed + 1))
  fi
done
(cd "$here" && go run ./cmd/floe-tg table "$outputs")
if [ "$total" -eq 0 ] || [ "$failed" -ne 0 ]; then
  echo "testground.sh: $failed of $total instances failed" >&2
  exit 1
fi
echo "testground.sh: all $total instances succeeded on testground $tg_version (local:exec, sync-service $sync_version)"
