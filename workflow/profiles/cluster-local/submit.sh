#!/usr/bin/env bash
# A stand-in for sbatch/qsub: runs each Snakemake job script as its own detached
# process (new session, no shared memory with the scheduler) and prints its PID as the
# job id. Used by the generic-cluster test to prove every job is self-contained.
set -euo pipefail
jobscript="$1"
logdir="${LMREPRO_CLUSTER_LOGDIR:-.snakemake/cluster-local}"
mkdir -p "$logdir"
name="$(basename "$jobscript" .sh)"
setsid bash "$jobscript" >"$logdir/$name.out" 2>&1 </dev/null &
echo $!
