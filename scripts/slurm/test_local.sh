#!/bin/bash
# End-to-end check of scripts/slurm on a running Slurm cluster (written for a one-node test
# cluster, see docs/cluster.md "Tested"; not part of CI). Runs configs/demo.yaml (TRIALS trials
# over SAMPLES images, 1 thread per rank or task) four ways and checks that each gives the same
# campaign as a one-process run of the same config:
#   1. campaign_mpi.sbatch, mpirun launcher (NTASKS ranks)
#   2. campaign_mpi.sbatch, srun --mpi=pmix launcher (if `srun --mpi=list` has pmix)
#   3. submit_array.sh: SHARDS array tasks + merge.sbatch with --dependency=afterok
#   4. campaign_mpi.sbatch with DNNFI_REQUEUE=1 on RESUME_TRIALS trials, sent the batch USR1
#      mid-run (what --signal=B:USR1@T does before the time limit): the job stops, requeues
#      itself and finishes with --resume
#   5. as 1 with DNNFI_RECOVERY=1 (mpirun --enable-recovery), worker rank 1 killed with SIGKILL
#      mid-run: its chunks are reissued after --mpi-timeout 3
#   6. a 2-task array on RESUME_TRIALS trials whose task 1 is cancelled mid-run (scancel, so
#      the merge never runs), task 1 resubmitted alone (`--array=1`, DNNFI_SHARDS=2: it resumes),
#      then merge.sbatch submitted by hand
# "Same" means: the trials table (every column but duration_s), the faults and inputs tables,
# and `dnnfi summary --json` (all but timing and the campaign's paths) are identical.
# Needs sqlite3 and jq; run as root it sets OMPI_ALLOW_RUN_AS_ROOT* for mpirun.
# Usage: scripts/slurm/test_local.sh   (env: DNNFI, WORKDIR, TRIALS, SAMPLES, RESUME_TRIALS,
#        NTASKS, SHARDS)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export DNNFI=${DNNFI:-$repo/build/dnnfi}
WORKDIR=$(realpath -m "${WORKDIR:-runs/slurm-test}")
TRIALS=${TRIALS:-2000}
SAMPLES=${SAMPLES:-500}
RESUME_TRIALS=${RESUME_TRIALS:-300000}
NTASKS=${NTASKS:-2}
SHARDS=${SHARDS:-4}
config=$repo/configs/demo.yaml
if [[ $(id -u) == 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export DNNFI_THREADS=1

for tool in sbatch squeue scontrol sqlite3 jq; do
  command -v "$tool" >/dev/null || { echo "test_local: $tool not found" >&2; exit 2; }
done
[[ -x "$DNNFI" ]] || { echo "test_local: no dnnfi binary at $DNNFI (build it first)" >&2; exit 2; }
sinfo >/dev/null || { echo "test_local: Slurm is not answering (sinfo)" >&2; exit 2; }

rm -rf "$WORKDIR"
mkdir -p "$WORKDIR/logs"
cd "$WORKDIR/logs"  # the submit directory: job logs land here
failed=0

job_line() {  # one line per job (or array task): id, state, exit code, elapsed
  scontrol show job "$1" | awk '
    /JobId=/ { id = $1; sub("JobId=", "", id); task = "" }
    /ArrayTaskId=/ { for (i = 1; i <= NF; ++i) if ($i ~ /^ArrayTaskId=/) task = $i }
    /JobState=/ { split($1, s, "="); state = s[2] }
    /ExitCode=/ { for (i = 1; i <= NF; ++i) if ($i ~ /^ExitCode=/) code = $i; }
    /Restarts=/ { for (i = 1; i <= NF; ++i) if ($i ~ /^Restarts=/) restarts = $i; }
    /RunTime=/ { split($1, r, "="); printf "  job %s %s state=%s %s %s elapsed=%s\n", id, task, state, code, restarts, r[2] }'
}
committed() {  # trials committed in DIR so far (read-only: never creates the file)
  if [[ -s "$1/results.sqlite" ]]; then
    sqlite3 -readonly "$1/results.sqlite" "SELECT count(*) FROM trials" 2>/dev/null || echo 0
  else
    echo 0
  fi
}
wait_jobs() {  # until none of the jobs is pending or running
  local t=0
  while squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null | grep -q .; do
    sleep 1
    if (( ++t > 900 )); then echo "test_local: jobs $* still queued after 900 s" >&2; return 1; fi
  done
}
dump() {  # a campaign's results, minus what legitimately differs (timings)
  sqlite3 -readonly "$1/results.sqlite" \
    "SELECT id, input_index, label, golden_label, faulty_label, golden_in_top5, outcome, error,
            nodes_computed FROM trials ORDER BY id;" \
    "SELECT * FROM faults ORDER BY trial_id, ordinal;" \
    "SELECT * FROM inputs ORDER BY input_index;"
  "$DNNFI" summary "$1" --json | jq -S 'del(.campaign, .trials_per_s)'
}
check_same() {  # check_same NAME REF DIR
  local name=$1 a b
  a=$(dump "$2" | sha256sum | cut -c1-16)
  if [[ ! -e "$3/results.sqlite" ]]; then
    echo "FAIL $name: no $3/results.sqlite"; failed=1; return
  fi
  b=$(dump "$3" | sha256sum | cut -c1-16)
  local counts
  counts=$("$DNNFI" summary "$3" --json |
    jq -r '.overall | "trials=\(.trials) masked=\(.masked.k) sdc=\(.sdc.k) tolerable=\(.tolerable.k) due=\(.due.k) hang=\(.hang.k)"')
  if [[ "$a" == "$b" ]]; then
    echo "SAME $name: $counts (results digest $b)"
  else
    echo "FAIL $name: $counts (results digest $b, reference $a)"
    failed=1
  fi
}

echo "== $(date -u +%FT%TZ) $(sinfo --version), $(mpirun --version | head -1)"
echo "== reference: one process, 1 thread, $TRIALS trials, $SAMPLES samples"
"$DNNFI" campaign "$config" --trials "$TRIALS" --samples "$SAMPLES" --threads 1 -q \
  -o "$WORKDIR/ref" | tail -1
export DNNFI_CONFIG=$config DNNFI_ARGS="--trials $TRIALS --samples $SAMPLES"

echo "== 1. campaign_mpi.sbatch (mpirun), $NTASKS ranks x 1 thread"
DNNFI_OUTPUT=$WORKDIR/mpi sbatch --wait --ntasks="$NTASKS" --cpus-per-task=1 \
  "$repo/scripts/slurm/campaign_mpi.sbatch" | tee "$WORKDIR/mpi.jobid" || true
job_line "$(awk '{print $4}' "$WORKDIR/mpi.jobid")"
grep -h '^MPI:' dnnfi-mpi-*.out || true
check_same "mpi (mpirun)" "$WORKDIR/ref" "$WORKDIR/mpi"

if srun --mpi=list 2>&1 | grep -qw pmix; then
  echo "== 2. campaign_mpi.sbatch (srun --mpi=pmix), $NTASKS ranks x 1 thread"
  DNNFI_LAUNCHER=srun DNNFI_OUTPUT=$WORKDIR/mpi-srun sbatch --wait --ntasks="$NTASKS" \
    --cpus-per-task=1 "$repo/scripts/slurm/campaign_mpi.sbatch" | tee "$WORKDIR/srun.jobid" || true
  j=$(awk '{print $4}' "$WORKDIR/srun.jobid")
  job_line "$j"
  grep -h '^MPI:' "dnnfi-mpi-$j.out" || true
  check_same "mpi (srun --mpi=pmix)" "$WORKDIR/ref" "$WORKDIR/mpi-srun"
else
  echo "== 2. skipped: this Slurm has no pmix plugin (srun --mpi=list)"
fi

echo "== 3. submit_array.sh: $SHARDS shards x 1 thread, then merge.sbatch (afterok)"
read -r array merge < <("$repo/scripts/slurm/submit_array.sh" "$config" "$WORKDIR/array" \
  "$SHARDS" --cpus-per-task=1)
echo "  array job $array, merge job $merge"
wait_jobs "$array" "$merge"
job_line "$array"
job_line "$merge"
check_same "array + merge" "$WORKDIR/ref" "$WORKDIR/array"

echo "== 4. requeue and --resume: $RESUME_TRIALS trials, the batch shell sent USR1 mid-run"
"$DNNFI" campaign "$config" --trials "$RESUME_TRIALS" --samples "$SAMPLES" --threads 1 -q \
  -o "$WORKDIR/ref-resume" | tail -1
j=$(DNNFI_REQUEUE=1 DNNFI_OUTPUT=$WORKDIR/resume \
  DNNFI_ARGS="--trials $RESUME_TRIALS --samples $SAMPLES --progress-interval 1" \
  sbatch --parsable --requeue --ntasks="$NTASKS" --cpus-per-task=1 \
  "$repo/scripts/slurm/campaign_mpi.sbatch")
echo "  job $j"
for ((t = 0; t < 300; ++t)); do  # until trials are being committed
  if (( $(committed "$WORKDIR/resume") > 0 )); then break; fi
  sleep 0.2
done
sleep 1
scancel --batch --signal=USR1 "$j" || true
for ((t = 0; t < 60; ++t)); do
  scontrol show job "$j" | grep -q 'Restarts=1' && break
  sleep 1
done
echo "  after USR1: $(committed "$WORKDIR/resume") of $RESUME_TRIALS trials committed; $(scontrol show job "$j" | grep -o 'JobState=[A-Z]* Reason=[A-Za-z]*')"
# A requeued job waits ~2 minutes before it is eligible again; an admin may start it now.
scontrol update JobId="$j" StartTime=now 2>/dev/null || true
wait_jobs "$j"
job_line "$j"
grep -h 'SIGUSR1\|requeue\|exited\|--resume\|^MPI:' "dnnfi-mpi-$j.out" | sed 's/^/  /' || true
check_same "requeued + resumed mpi" "$WORKDIR/ref-resume" "$WORKDIR/resume"

echo "== 5. --enable-recovery: worker rank 1 killed (SIGKILL) mid-run, --mpi-timeout 3"
j=$(DNNFI_RECOVERY=1 DNNFI_MPI_TIMEOUT=3 DNNFI_OUTPUT=$WORKDIR/recovery \
  DNNFI_ARGS="--trials $RESUME_TRIALS --samples $SAMPLES" \
  sbatch --parsable --ntasks="$NTASKS" --cpus-per-task=1 "$repo/scripts/slurm/campaign_mpi.sbatch")
echo "  job $j"
victim=
for ((t = 0; t < 300; ++t)); do  # the dnnfi process of rank 1, once it computes
  [[ -z "$victim" ]] || break
  if (( $(committed "$WORKDIR/recovery") > 0 )); then
    for p in $(pgrep -x dnnfi || true); do
      if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 &&
         tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_JOB_ID=$j"; then
        victim=$p
      fi
    done
  fi
  sleep 0.2
done
if [[ -n "$victim" ]]; then
  kill -KILL "$victim"
  echo "  killed rank 1 (pid $victim) at $(committed "$WORKDIR/recovery") trials committed"
else
  echo "  rank 1 not found"
fi
wait_jobs "$j"
job_line "$j"
grep -h '^MPI:\|exited' "dnnfi-mpi-$j.out" | sed 's/^/  /' || true
check_same "mpi with rank 1 killed" "$WORKDIR/ref-resume" "$WORKDIR/recovery"

echo "== 6. array task cancelled, resubmitted alone (--resume), merged by hand: 2 shards"
export DNNFI_ARGS="--trials $RESUME_TRIALS --samples $SAMPLES"
read -r array merge < <("$repo/scripts/slurm/submit_array.sh" "$config" "$WORKDIR/array2" 2 \
  --cpus-per-task=1)
echo "  array job $array, merge job $merge"
for ((t = 0; t < 300; ++t)); do
  if (( $(committed "$WORKDIR/array2-shards/1") > 0 )); then break; fi
  sleep 0.2
done
sleep 1
scancel "${array}_1" || true
wait_jobs "$array" "$merge"
echo "  after scancel: shard 1 holds $(committed "$WORKDIR/array2-shards/1") trials"
job_line "$array"
job_line "$merge"
j=$(DNNFI_SHARDS=2 DNNFI_OUTPUT=$WORKDIR/array2 sbatch --parsable --array=1 --cpus-per-task=1 \
  "$repo/scripts/slurm/campaign_array.sbatch")
j=${j%%;*}
m=$(DNNFI_SHARDS=2 DNNFI_OUTPUT=$WORKDIR/array2 sbatch --parsable --dependency="afterok:$j" \
  "$repo/scripts/slurm/merge.sbatch")
echo "  resubmitted task 1 as job $j, merge job $m"
wait_jobs "$j" "$m"
job_line "$j"
job_line "$m"
grep -h 'campaign.*--shard' "dnnfi-shard-${j}_1.out" | sed 's/^/  /' || true
check_same "array, task resumed, merged" "$WORKDIR/ref-resume" "$WORKDIR/array2"

echo "== $(date -u +%FT%TZ) $([[ $failed == 0 ]] && echo 'all the same' || echo FAILED)"
exit "$failed"
