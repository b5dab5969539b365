#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine from Debian's packages (munge, slurmctld, slurmd), for the
# `mer grid --executor slurm` test. Idempotent: a second call finds the cluster up and only checks it.
#
# Works in a container without systemd or cgroups: the daemons are started directly, proctrack/linuxproc and
# task/none replace the cgroup plugins, and jobs run as the submitting user (root in CI). Needs root.
# Usage: .ci/slurm-up.sh            (exit 0 when `srun hostname` works; prints why not and exits 1 otherwise)
#        .ci/slurm-up.sh --install  (apt-get install the packages first if they are missing)
set -euo pipefail

if [[ "${1:-}" == "--install" ]] && ! command -v slurmctld >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
fi
for tool in munged mungekey slurmctld slurmd sinfo srun scontrol; do
  command -v "$tool" >/dev/null 2>&1 || { echo "slurm-up: $tool not installed (apt-get install munge slurmctld slurmd)"; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "slurm-up: must run as root (starts munged, slurmctld and slurmd)"; exit 1; }

CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)
CLUSTER=mer-ci
PARTITION=${MER_SLURM_PARTITION:-debug}

if sinfo -h -o %T 2>/dev/null | grep -Eqx "idle|mixed|allocated" && srun -N1 -t 1 true 2>/dev/null; then
  echo "slurm-up: cluster already up ($(sinfo -h -o '%P %D %T %c CPUs %m MB' | head -1))"
  exit 0
fi

# ---- munge: a key (kept if there is one) and the daemon
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key && chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- munged --force
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
fi
munge -n | unmunge >/dev/null || { echo "slurm-up: munged does not answer"; exit 1; }

# ---- slurm.conf for this machine: its CPUs, 90% of its memory, one partition, no cgroups
read -r CPUS MEM < <(slurmd -C | head -1 | sed -E 's/.*CPUs=([0-9]+).*RealMemory=([0-9]+).*/\1 \2/')
MEM=$((MEM * 9 / 10))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
cat >"$CONF.new" <<EOF
# written by .ci/slurm-up.sh: a single-node test cluster (no cgroups, so it runs in a container)
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
MaxArraySize=10001
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
if ! cmp -s "$CONF.new" "$CONF"; then
  mv "$CONF.new" "$CONF"
  CHANGED=1
else
  rm "$CONF.new"
  CHANGED=0
fi
# no cgroup.conf: slurmd 22.05 still loads its cgroup plugin, but with proctrack/linuxproc and task/none nothing
# uses it (and "CgroupPlugin=disabled" only exists from 23.02 on)

# ---- daemons: (re)start when not running or when the config changed
running() { pgrep -x "$1" >/dev/null 2>&1; }
if [[ $CHANGED -eq 1 ]]; then
  for d in slurmd slurmctld; do
    if running "$d"; then kill "$(cat /run/slurm/$d.pid 2>/dev/null || pgrep -x "$d")" 2>/dev/null || true; fi
  done
  sleep 1
fi
running slurmctld || slurmctld
running slurmd || slurmd

# ---- wait for the node, then check that a job runs
for _ in $(seq 60); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1 || true)
  [[ "$state" =~ ^(idle|mixed|allocated)$ ]] && break
  if [[ "$state" == down* || "$state" == drain* ]]; then scontrol update nodename="$NODE" state=resume 2>/dev/null || true; fi
  sleep 1
done
if ! timeout 60 srun -N1 -t 1 true; then
  echo "slurm-up: the cluster did not run a job; node state: $(sinfo -h -N -o '%N %T %E' 2>&1)"
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log 2>/dev/null || true
  exit 1
fi
echo "slurm-up: cluster $CLUSTER up: partition $PARTITION on $NODE, $CPUS CPUs, $MEM MB"
