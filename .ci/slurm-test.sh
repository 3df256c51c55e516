#!/usr/bin/env bash
# Single-node Slurm, for real: install Debian's slurm-wlm and munge if missing, configure one
# node on localhost, start munged, slurmctld and slurmd, submit a 4-task job array and check
# what it did, then stop the daemons. Two parts:
#   1. a stand-in array (each task writes its SLURM_ARRAY_TASK_* variables): proves that the
#      scheduler runs every task of an array on this machine;
#   2. when `deno task study` exists (harness/cli/study.ts), a small study run as 4 array
#      shards, merged with `deno task study merge`, compared byte for byte with the same study
#      run unsharded here: summary.json and report.html must be identical.
# Prints PASS or FAIL and exits 0 or 1. Needs root (it installs packages and starts daemons).
# Environment: PRECOPY_SLURM_DIR (state, logs, outputs; default /tmp/precopy-slurm),
# PRECOPY_SLURM_PORT (slurmctld's port; slurmd uses the next one; default 6817).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
dir=${PRECOPY_SLURM_DIR:-/tmp/precopy-slurm}
port=${PRECOPY_SLURM_PORT:-6817}
spec=fixtures/studies/slurm-small.json
tasks=4

say() { printf 'slurm-test: %s\n' "$*"; }
fail() {
  say "$*"
  echo "slurm-test: FAIL"
  exit 1
}

# --- packages (skipped when already installed) ---------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } \
    >"${TMPDIR:-/tmp}/precopy-slurm-apt.log" 2>&1 \
    || fail "apt-get install slurm-wlm munge failed: $(tail -n 3 "${TMPDIR:-/tmp}/precopy-slurm-apt.log")"
fi

# --- Deno: the same 2.9.6 the README's commands use ---------------------------------------
# Array tasks run under slurmd, so they get an absolute path to the binary, not an npx call.
if command -v deno >/dev/null && deno --version 2>/dev/null | grep -q '^deno 2\.9\.6 '; then
  deno=$(command -v deno)
else
  deno=$(npx --yes deno@2.9.6 eval 'console.log(Deno.execPath())' 2>/dev/null) \
    || fail "could not find Deno 2.9.6 (npx --yes deno@2.9.6 failed)"
fi

# --- stop what an earlier run of this script left behind ----------------------------------
stop_daemons() {
  local f pid
  # Jobs still running (a timed-out sbatch --wait) are cancelled before their daemons go.
  if [ -n "${SLURM_CONF:-}" ] && [ -s "$dir"/run/slurmctld.pid ]; then
    scancel --partition=debug >/dev/null 2>&1 && sleep 1
  fi
  for f in "$dir"/run/slurmd.pid "$dir"/run/slurmctld.pid "$dir"/run/munged.pid; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    # Only the daemon the pid file names: a stale file's pid may belong to another process now.
    if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$(basename "$f" .pid)" ]; then
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$f"
  done
}
stop_daemons
rm -rf "$dir"
mkdir -p "$dir"/{run,log,state,spool,munge,socket,out}
chmod 700 "$dir"/munge
chmod 755 "$dir" "$dir"/socket
trap 'stop_daemons' EXIT

# --- munge: a fresh key and a private socket ------------------------------------------------
dd if=/dev/urandom of="$dir"/munge/munge.key bs=1024 count=1 status=none
chmod 400 "$dir"/munge/munge.key
socket=$dir/socket/munge.socket
# --force: munged otherwise refuses a key and socket outside its usual, root-owned directories.
munged --force --key-file="$dir"/munge/munge.key --socket="$socket" \
  --pid-file="$dir"/run/munged.pid --log-file="$dir"/log/munged.log \
  --seed-file="$dir"/munge/munged.seed >"$dir"/log/munged.out 2>&1 \
  || fail "munged did not start: $(tail -n 3 "$dir"/log/munged.out "$dir"/log/munged.log 2>/dev/null)"
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null 2>&1 \
  || fail "munge credential round trip failed (munge -n | unmunge)"

# --- slurm.conf: one node, this machine ------------------------------------------------------
node=$(hostname -s)
cpus=$(nproc)
mem=$(free -m | awk '/^Mem:/ { print int($2 * 0.9) }')
conf=$dir/slurm.conf
cat >"$conf" <<EOF
# One-node cluster on localhost, written by .ci/slurm-test.sh.
ClusterName=precopy
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups: plain process tracking works in containers where cgroups are not writable.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$conf

slurmctld -f "$conf" >"$dir"/log/slurmctld.out 2>&1 \
  || fail "slurmctld did not start: $(tail -n 5 "$dir"/log/slurmctld.out "$dir"/log/slurmctld.log 2>/dev/null)"
slurmd -f "$conf" -N "$node" >"$dir"/log/slurmd.out 2>&1 \
  || fail "slurmd did not start: $(tail -n 5 "$dir"/log/slurmd.out "$dir"/log/slurmd.log 2>/dev/null)"

state=""
for _ in $(seq 60); do
  state=$(sinfo -h -N -n "$node" -o '%T' 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || fail "node $node not idle after 60 s (sinfo: '${state}'); logs: $(tail -n 5 "$dir"/log/slurmctld.log "$dir"/log/slurmd.log 2>/dev/null)"
say "node $node idle ($cpus CPUs), $(sinfo -V)"

# Submits a $tasks-task array and waits for it; $1 names it, $2 is the batch script's body.
run_array() {
  local name=$1 body=$2 out
  printf '#!/usr/bin/env bash\nset -euo pipefail\n%s\n' "$body" >"$dir/$name.sbatch"
  out=$(timeout 900 sbatch --parsable --wait --array=1-"$tasks" --job-name="$name" \
    --chdir="$repo" --output="$dir/log/$name-%a.out" --cpus-per-task=1 "$dir/$name.sbatch" 2>&1) \
    || { say "sbatch $name failed: $out"; tail -n 20 "$dir"/log/"$name"-*.out 2>/dev/null; return 1; }
  say "array $name (job $out) finished"
}

# --- 1. stand-in array: every task runs, with the variables a study shard reads ---------------
run_array standin "echo \"\$SLURM_ARRAY_TASK_ID \$SLURM_ARRAY_TASK_COUNT \$SLURM_ARRAY_TASK_MIN\" >\"$dir/out/standin-\$SLURM_ARRAY_TASK_ID\"" \
  || fail "stand-in array did not complete"
for k in $(seq "$tasks"); do
  got=$(cat "$dir/out/standin-$k" 2>/dev/null) || fail "array task $k did not run"
  [ "$got" = "$k $tasks 1" ] || fail "array task $k saw '$got', expected '$k $tasks 1'"
done
say "all $tasks array tasks ran (SLURM_ARRAY_TASK_ID 1..$tasks, COUNT=$tasks)"

# --- 2. a study in shards, merged, against the unsharded run -------------------------------------
if [ -f harness/cli/study.ts ]; then
  run_array study "\"$deno\" task study $spec --out \"$dir/out/shard-\$SLURM_ARRAY_TASK_ID\" --jobs 1 --quiet" \
    || fail "study array did not complete"
  shards=()
  for k in $(seq "$tasks"); do shards+=("$dir/out/shard-$k"); done
  "$deno" task study merge --out "$dir/out/merged" "${shards[@]}" >"$dir/log/merge.out" 2>&1 \
    || fail "deno task study merge failed: $(tail -n 5 "$dir"/log/merge.out)"
  # The reference run is unsharded even when this script itself runs inside an array task.
  env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT -u SLURM_ARRAY_TASK_MIN \
    -u JOB_COMPLETION_INDEX "$deno" task study "$spec" --out "$dir/out/local" --quiet \
    >"$dir/log/local.out" 2>&1 \
    || fail "unsharded deno task study failed: $(tail -n 5 "$dir"/log/local.out)"
  for f in summary.json report.html; do
    cmp "$dir/out/local/$f" "$dir/out/merged/$f" \
      || fail "$f of the merged shards differs from the unsharded run"
  done
  say "study $spec: $tasks Slurm shards merged = unsharded run (summary.json, report.html byte-identical)"
else
  say "harness/cli/study.ts not present: study shards not run (stand-in array only)"
fi

echo "slurm-test: PASS"
