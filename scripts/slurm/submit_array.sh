#!/bin/bash
# Submits a dnnfi campaign as a Slurm job array of N shards plus the merge that waits for it:
#
#   scripts/slurm/submit_array.sh CONFIG OUTPUT N [more sbatch options for the array tasks]
#   e.g. scripts/slurm/submit_array.sh configs/demo.yaml runs/demo 16 --cpus-per-task=8 --time=1:00:00
#
# Prints "ARRAY_JOB_ID MERGE_JOB_ID". The shards go to OUTPUT-shards/0..N-1 (DNNFI_SHARDS_DIR),
# the merged campaign to OUTPUT. DNNFI, DNNFI_THREADS, DNNFI_ARGS are passed on to the jobs
# (see campaign_array.sbatch). DNNFI_MERGE_SBATCH_ARGS: sbatch options for the merge job.
set -euo pipefail
if (( $# < 3 )); then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
export DNNFI_CONFIG=$1 DNNFI_OUTPUT=$2 DNNFI_SHARDS=$3
shift 3
if ! [[ "$DNNFI_SHARDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "N must be a positive number of shards, not '$DNNFI_SHARDS'" >&2
  exit 2
fi
# The jobs resolve relative paths against the submit directory, which is this directory.
if [[ -e "$DNNFI_OUTPUT/results.sqlite" ]]; then
  echo "$DNNFI_OUTPUT already holds results (merge would refuse); choose another OUTPUT" >&2
  exit 2
fi
array=$(sbatch --parsable --array="0-$((DNNFI_SHARDS - 1))" "$@" "$here/campaign_array.sbatch")
array=${array%%;*}
read -r -a merge_args <<< "${DNNFI_MERGE_SBATCH_ARGS:-}"
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  "${merge_args[@]}" "$here/merge.sbatch")
merge=${merge%%;*}
echo "$array $merge"
