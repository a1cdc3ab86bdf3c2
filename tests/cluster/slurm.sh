#!/usr/bin/env bash
# A single-node SLURM on localhost, for testing the SLURM profile (tests/test_slurm.py).
#
#   tests/cluster/slurm.sh install   # Debian packages: munge, slurmctld, slurmd, slurm-client (root)
#   tests/cluster/slurm.sh start     # write slurm.conf, start munged, slurmctld, slurmd, with no jobs
#                                    # (restarting any this script started); wait for idle
#   tests/cluster/slurm.sh stop      # stop the daemons this script started (by their PIDs)
#
# State, logs and pidfiles live in $SAEPIPE_SLURM_DIR (default /tmp/saepipe-slurm). slurm.conf goes
# where every SLURM tool looks by default, /etc/slurm/slurm.conf: the jobs' own srun calls run with
# SLURM_* variables cleared by Snakemake's plugin, so a SLURM_CONF elsewhere would not reach them.
# A slurm.conf this script did not write is never overwritten; stop removes the one it wrote.
# Nothing starts by itself (no systemd): start runs the daemons directly. Needs root.
set -euo pipefail

DIR=${SAEPIPE_SLURM_DIR:-/tmp/saepipe-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by mnist-sae-pipeline tests/cluster/slurm.sh"
PARTITION=debug

log() { echo "slurm.sh: $*" >&2; }

install_packages() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
}

write_conf() {
    local host node
    host=$(hostname -s)
    # The node's real CPUs and memory: a RealMemory above what slurmd -C reports drains the node.
    node=$(slurmd -C | head -n 1)
    mkdir -p "$DIR/state" "$DIR/spool" "$(dirname "$CONF")"
    if [ -f "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
        log "$CONF exists and was not written by this script; leaving it, and not starting"
        return 1
    fi
    cat >"$CONF" <<EOF
$MARK
ClusterName=saepipe
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
# squeue and scontrol see a finished job only while slurmctld keeps it: an hour, longer than any
# test run, so the test can check every job it ran.
MinJobAge=3600
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if [ -S /run/munge/munge.socket.2 ] && munge -n </dev/null >/dev/null 2>&1; then
        log "munged is already running; using it"
        return
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 0755 /run/munge
    # munged runs as user munge, so its pidfile goes in a folder that user owns
    mkdir -p "$DIR/munge"
    chown munge:munge "$DIR/munge"
    runuser -u munge -- /usr/sbin/munged --pid-file="$DIR/munge/munged.pid"
}

wait_until_idle() {
    local i
    for i in $(seq 1 60); do
        if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
            log "node idle after ${i} checks: $(sinfo -h -o '%P %D %c %m %t')"
            return 0
        fi
        sleep 0.5
    done
    log "the node never became idle: $(sinfo 2>&1 || true)"
    log "why: $(sinfo -R 2>&1 || true); jobs: $(squeue 2>&1 || true)"
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    return 1
}

start() {
    # Always a fresh cluster: a test run killed mid-job (its machine's session ended) leaves its
    # jobs behind, in daemons still running or in their saved state, and a controller that keeps
    # them keeps the node allocated to jobs nobody runs.
    if [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
        log "already running (pid $(cat "$DIR/slurmctld.pid")): restarting it empty"
        stop
    fi
    rm -rf "$DIR/spool"  # slurmd's files of its steps; slurmctld -c below drops the controller's
    mkdir -p "$DIR"
    rm -f "$DIR"/*.pid
    write_conf
    start_munge
    slurmctld -f "$CONF" -c  # -c: recover no jobs and no node state, whatever the folder holds
    slurmd -f "$CONF"
    wait_until_idle
}

stop_pidfile() {
    local pidfile=$1 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop() {
    stop_pidfile "$DIR/slurmd.pid"
    stop_pidfile "$DIR/slurmctld.pid"
    stop_pidfile "$DIR/munge/munged.pid"
    if [ -f "$CONF" ] && grep -qxF "$MARK" "$CONF"; then
        rm -f "$CONF"
    fi
    log "stopped"
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
