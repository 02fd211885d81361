#!/usr/bin/env bash
# Stops the one-node Slurm cluster of .ci/slurm/up.sh: exactly the processes that script
# started (listed in ODA_SLURM_DIR/started), a munged or daemon it found running is left alone.
# Idempotent. Jobs still queued or running are cancelled first.
set -euo pipefail
DIR="${ODA_SLURM_DIR:-/tmp/oda-slurm}"
STARTED="$DIR/started"
[ -f "$STARTED" ] || { echo "== nothing started by up.sh in $DIR"; exit 0; }
export SLURM_CONF="$DIR/slurm.conf"
if command -v scancel >/dev/null && [ -f "$SLURM_CONF" ]; then
    scancel --full --quiet --user "$(id -un)" 2>/dev/null || true
fi
# Daemons in reverse order of start.
tac "$STARTED" | while read -r name pid; do
    if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
        echo "== stopping $name ($pid)"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && { echo "   $name did not stop: SIGKILL"; kill -9 "$pid" || true; }
    fi
done
rm -f "$STARTED"
