#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for oda's Slurm tests (and for a developer who
# wants one): Debian's munge, slurmctld and slurmd, no systemd. Idempotent: a running cluster
# started by this script is left as it is. Stop it with .ci/slurm/down.sh, which stops exactly
# what this script started.
#
#   .ci/slurm/up.sh            # then: export SLURM_CONF=${ODA_SLURM_DIR:-/tmp/oda-slurm}/slurm.conf
#
# Needs root (the daemons, /run/munge) and Debian's packages slurmctld, slurmd, slurm-client and
# munge (installed here when missing). Everything else lives in ODA_SLURM_DIR (default
# /tmp/oda-slurm): the configuration, state, spool, logs, the job-completion record and the list
# of processes started.
set -euo pipefail
DIR="${ODA_SLURM_DIR:-/tmp/oda-slurm}"
CPUS="${ODA_SLURM_CPUS:-4}"   # advertised CPUs (more than the machine's: config_overrides)
NODE="$(hostname -s)"
STARTED="$DIR/started"

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$1" 2>/dev/null || true; }
# start NAME PIDFILE COMMAND...: runs COMMAND (a daemon writing PIDFILE) unless NAME runs, and
# records the process started.
start() {
    local name="$1" pidfile="$2"
    shift 2
    if alive "$(pid_of "$pidfile")"; then
        echo "== $name already running (pid $(pid_of "$pidfile"))"
        return
    fi
    echo "== starting $name"
    "$@"
    for _ in $(seq 100); do alive "$(pid_of "$pidfile")" && break; sleep 0.1; done
    echo "$name $(pid_of "$pidfile")" >> "$STARTED"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "up.sh: run as root (slurmd and munged need it)" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    echo "== installing slurmctld slurmd slurm-client munge"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
mkdir -p "$DIR"/{state,spool,log}
touch "$STARTED"

# munge: as the munge user, with its socket directory in /run/munge.
if [ ! -s /etc/munge/munge.key ]; then
    echo "== creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chmod 755 /run/munge
start munged /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged

cat > "$DIR/slurm.conf.new" <<CONF
# Written by .ci/slurm/up.sh: one node, one partition, no accounting daemon.
ClusterName=oda
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# Array tasks start at once instead of after the default 3 s batch delay.
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Each task's end state without slurmdbd.
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
# The node may advertise more CPUs than the machine has.
SlurmdParameters=config_overrides
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$DIR/slurm.conf.new" "$DIR/slurm.conf"; then
    mv "$DIR/slurm.conf.new" "$DIR/slurm.conf"
else
    rm "$DIR/slurm.conf.new"
fi
export SLURM_CONF="$DIR/slurm.conf"

start slurmctld "$DIR/slurmctld.pid" /usr/sbin/slurmctld -f "$SLURM_CONF"
start slurmd "$DIR/slurmd.pid" /usr/sbin/slurmd -f "$SLURM_CONF"

# Ready when the node is idle (or mixed/allocated, when jobs already run).
for _ in $(seq 300); do
    state="$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)"
    case "$state" in
        idle*|mix*|alloc*) echo "== node $NODE is $state; export SLURM_CONF=$SLURM_CONF"; exit 0 ;;
    esac
    sleep 0.1
done
echo "up.sh: the node did not become idle in 30 s (state '${state:-none}'); see $DIR/log" >&2
exit 1
