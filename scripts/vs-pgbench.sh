#!/usr/bin/env bash
# Is leasebench the bottleneck? Compare its throughput with pgbench running
# the same lease+complete cycle on the same server.
#
# Starts ONE throwaway Postgres on 127.0.0.1 (as the `postgres` OS user when
# run as root), then for each worker count N:
#   pgbench    -n -M prepared -c N -j 2 -T $DURATION -f scripts/lease.pgbench.sql
#   leasebench run --workers N --duration ${DURATION}s --database-url <that server>
# on the same table state, and passes when leasebench reaches at least
# MIN_RATIO (0.9) x pgbench's cycles/s. Exit 0 when every N passes, 1 when
# any fails or something goes wrong, 2 on a usage error.
#
# Usage: scripts/vs-pgbench.sh
# Environment (all optional):
#   PG_BIN=DIR        Postgres binaries (initdb, pg_ctl, postgres; pgbench and
#                     psql from here too when present, else from PATH)
#                     [/usr/lib/postgresql/15/bin]
#   LEASEBENCH=PATH   leasebench binary to test (default: cargo build --release)
#   WORKERS="1 10 50 100"  worker counts (spaces or commas)
#   DURATION=5        seconds per run
#   SEED=100000       items seeded before each run, for both tools
#   LB_QUEUE_DEPTH=N  leasebench --queue-depth [SEED]; see "Fairness" below
#   REPEAT=3          rounds per N; a round runs pgbench and leasebench back
#                     to back (which goes first alternates). The verdict uses
#                     the median over rounds of leasebench/pgbench within a
#                     round, which cancels slow drifts in outside load.
#   MIN_RATIO=0.9     pass threshold for leasebench / pgbench
#   PG_SETTINGS="k=v ..."  extra server settings, e.g. synchronous_commit=off
#                     to take WAL fsync latency out and make client CPU show
#                     (default: none, like leasebench's throwaway cluster)
#   OUT=DIR           keep leasebench results and pgbench logs here (default:
#                     inside the temp dir, deleted at exit)
#
# Fairness. Both tools start each run from the state leasebench's cell
# builds (schema::reset_cell): TRUNCATE ... RESTART IDENTITY, only the
# primary key plus sql/indexes/pending_partial.sql, SEED items inserted with
# leasebench's own INSERT (same priorities and run_at spread), VACUUM
# (ANALYZE), CHECKPOINT. pgbench cannot refill the queue, and its \gset
# aborts a client whose lease finds nothing, so SEED must be more than a run
# can consume; the script checks afterwards that pending items remained and
# no client aborted. leasebench's producer keeps the queue between
# queue_depth/2 and queue_depth; with the default LB_QUEUE_DEPTH=SEED it
# starts from exactly pgbench's table and only inserts if a run leases more
# than SEED/2 (then the table says "producer inserted N/run"). Set LB_QUEUE_DEPTH=10000
# (leasebench's default) to measure it as users run it, producer inserts and
# all, against the same pgbench baseline.
#
# Both connect over TCP to 127.0.0.1 with search_path=leasebench, use
# prepared statements, and run one autocommit transaction per statement.
# Each pgbench transaction is one lease+complete cycle; any cycle whose
# lease found no row would abort its client, so every counted transaction
# leased (and completed) one item.
set -euo pipefail
umask 077

readonly PROG="${0##*/}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
WORKERS="${WORKERS:-1 10 50 100}"
DURATION="${DURATION:-5}"
SEED="${SEED:-100000}"
LB_QUEUE_DEPTH="${LB_QUEUE_DEPTH:-$SEED}"
REPEAT="${REPEAT:-3}"
MIN_RATIO="${MIN_RATIO:-0.9}"
OUT="${OUT:-}"
PG_SETTINGS="${PG_SETTINGS:-}"
readonly SCHEMA=leasebench
readonly LEASE_MS=300000 # leasebench's default --lease-ms; lease.pgbench.sql has it inline
readonly PGB_SCRIPT="$script_dir/lease.pgbench.sql"
readonly STRATEGY_SQL="$repo_root/sql/strategies/update_returning.sql"
readonly INDEX_SQL="$repo_root/sql/indexes/pending_partial.sql"
readonly MIGRATION_SQL="$repo_root/migrations/V1__due_work.sql"

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}
usage_error() {
    echo "$PROG: $* (see the comment at the top of $0)" >&2
    exit 2
}
say() { echo "$PROG: $*" >&2; }

# ---- arguments ---------------------------------------------------------------
[[ $# -eq 0 ]] || usage_error "takes no arguments; configure with environment variables"
read -r -a worker_list <<<"${WORKERS//,/ }"
[[ ${#worker_list[@]} -gt 0 ]] || usage_error "WORKERS is empty"
max_workers=0
for n in "${worker_list[@]}"; do
    [[ $n =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "WORKERS: $n is not a worker count"
    if ((n > max_workers)); then max_workers=$n; fi
done
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || usage_error "DURATION must be whole seconds, got $DURATION"
[[ $SEED =~ ^[1-9][0-9]*$ ]] || usage_error "SEED must be a positive integer, got $SEED"
[[ $LB_QUEUE_DEPTH =~ ^[1-9][0-9]*$ ]] || usage_error "LB_QUEUE_DEPTH must be a positive integer"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || usage_error "REPEAT must be a positive integer, got $REPEAT"
[[ $MIN_RATIO =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "MIN_RATIO must be a number, got $MIN_RATIO"
read -r -a pg_settings <<<"$PG_SETTINGS"
pg_opts=""
for kv in "${pg_settings[@]}"; do
    [[ $kv =~ ^[a-z_.]+=[A-Za-z0-9_.]+$ ]] || usage_error "PG_SETTINGS: $kv is not name=value"
    pg_opts+=" -c $kv"
done
# leasebench needs workers + 4 observer connections; keep headroom.
max_connections=$((max_workers + 30 > 150 ? max_workers + 30 : 150))

for t in initdb pg_ctl postgres; do
    [[ -x $PG_BIN/$t ]] || die "no $PG_BIN/$t (set PG_BIN to a Postgres bin directory)"
done
tool() { # prefer PG_BIN's client, else PATH's
    if [[ -x $PG_BIN/$1 ]]; then echo "$PG_BIN/$1"; else command -v "$1" || die "$1 not found"; fi
}
PGBENCH="$(tool pgbench)"
PSQL="$(tool psql)"
command -v jq >/dev/null || die "jq not found (apt-get install jq)"
for f in "$PGB_SCRIPT" "$STRATEGY_SQL" "$INDEX_SQL" "$MIGRATION_SQL"; do
    [[ -r $f ]] || die "cannot read $f"
done
time_v=()
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    time_v=(/usr/bin/time -v)
fi

# ---- the pgbench script must run leasebench's statements --------------------
# Section text of `-- @lease` / `-- @complete`, comments dropped, whitespace
# collapsed, final semicolon dropped.
section() { # file section
    awk -v want="$2" '
        /^-- @/ { cur = substr($0, 5); sub(/[[:space:]]+$/, "", cur); next }
        cur == want && !/^[[:space:]]*--/ { print }
    ' "$1" | tr -s ' \t\n' ' ' | sed -e 's/^ //' -e 's/[ ;]*$//'
}
for sec in lease complete; do
    want="$(section "$STRATEGY_SQL" "$sec" | sed "s/{lease_ms}/$LEASE_MS/g")"
    # shellcheck disable=SC2016 # a literal $1
    have="$(section "$PGB_SCRIPT" "$sec" | sed -e 's/ *\\gset$//' -e 's/:id\b/$1/g')"
    [[ -n $want && $want == "$have" ]] || die "the @$sec statement of $PGB_SCRIPT differs from $STRATEGY_SQL:
  strategy: $want
  pgbench:  $have"
done

# ---- leasebench binary --------------------------------------------------------
if [[ -n ${LEASEBENCH:-} ]]; then
    LB="$(realpath -- "$LEASEBENCH" 2>/dev/null)" || die "LEASEBENCH=$LEASEBENCH does not exist"
    [[ -x $LB && -f $LB ]] || die "LEASEBENCH=$LEASEBENCH is not an executable"
else
    say "building leasebench (cargo build --release)..."
    (cd "$repo_root" && cargo build --release --quiet) || die "cargo build --release failed"
    LB="$repo_root/target/release/leasebench"
fi

# ---- the throwaway server -------------------------------------------------------
tmp=""
data=""
postmaster_pid=""
is_root=false
if [[ $(id -u) -eq 0 ]]; then is_root=true; fi
# Run as the server's OS user, from a directory it can read.
as_pg() {
    if $is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap '' INT TERM HUP
    set +e
    if [[ -n $data && -f $data/postmaster.pid ]]; then
        postmaster_pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null)"
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    if [[ $postmaster_pid =~ ^[0-9]+$ ]]; then
        # Last resort: the postmaster we started (its pid, running on our
        # data dir), if it still runs.
        if tr '\0' ' ' <"/proc/$postmaster_pid/cmdline" 2>/dev/null | grep -qF -- "-D $data "; then
            kill -KILL "$postmaster_pid" 2>/dev/null
        fi
        # pg_ctl daemonizes the server, so init reaps it: wait (up to 5 s)
        # until it is gone, not even a zombie.
        for _ in $(seq 50); do
            [[ -e /proc/$postmaster_pid ]] || break
            [[ $(awk '{ print $3 }' "/proc/$postmaster_pid/stat" 2>/dev/null) == Z ]] ||
                tr '\0' ' ' <"/proc/$postmaster_pid/cmdline" 2>/dev/null | grep -qF -- "-D $data " || break
            sleep 0.1
        done
    fi
    if [[ -n $tmp && -d $tmp ]]; then
        rm -rf -- "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

tmp="$(mktemp -d /tmp/vs-pgbench.XXXXXX)"
if $is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run the server"
    chown postgres: "$tmp"
fi
chmod 700 "$tmp"
data="$tmp/data"
logdir="${OUT:-$tmp/out}"
mkdir -p "$logdir"
# Test a private copy: a concurrent `cargo build` must not swap the binary
# between runs.
cp -- "$LB" "$tmp/leasebench"
LB="$tmp/leasebench"

as_pg "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    >"$tmp/initdb.log" 2>&1 || {
    cat "$tmp/initdb.log" >&2
    die "initdb failed"
}

port_in_use() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in 1 2 3 4 5; do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    port_in_use "$p" && continue
    if as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$tmp/postgres.log" -w -t 60 \
        -o "-p $p -c listen_addresses=127.0.0.1 -c unix_socket_directories='$tmp' -c max_connections=$max_connections$pg_opts" \
        start >/dev/null 2>&1; then
        port=$p
        break
    fi
    grep -qE 'could not bind|Address already in use' "$tmp/postgres.log" 2>/dev/null || {
        tail -n 5 "$tmp/postgres.log" >&2 2>/dev/null
        die "Postgres did not start"
    }
done
[[ -n $port ]] || die "Postgres did not start: no free port found"
postmaster_pid="$(head -n1 "$data/postmaster.pid")"
URL="postgres://postgres@127.0.0.1:$port/postgres"
pg_version="$("$PG_BIN/postgres" --version)"
say "throwaway $pg_version on 127.0.0.1:$port in $tmp (max_connections=$max_connections${PG_SETTINGS:+ $PG_SETTINGS})"

# psql / pgbench into leasebench's schema, over TCP like leasebench.
psql_lb() {
    PGOPTIONS="-c search_path=$SCHEMA" "$PSQL" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# cpu_us_per TIMEFILE COUNT: client CPU (user + sys) per item, microseconds,
# from /usr/bin/time -v output; empty without it.
cpu_us_per() {
    [[ -r $1 && $2 -gt 0 ]] || return 0
    awk -v n="$2" -F': ' '/User time \(seconds\)|System time \(seconds\)/ { t += $2 }
        END { printf "%.1f", t * 1e6 / n }' "$1"
}

# ---- one leasebench run -----------------------------------------------------
# lb_run N SECONDS QUEUE_DEPTH LABEL: sets lb_tput lb_leased lb_errors
# lb_empty lb_inserted lb_rss lb_maxrss_kb; run output goes to $logdir/LABEL.
lb_run() {
    local n=$1 secs=$2 depth=$3 dir="$logdir/$4"
    mkdir -p "$dir"
    local cmd=("$LB" run --database-url "$URL" --schema "$SCHEMA"
        --workers "$n" --duration "${secs}s" --queue-depth "$depth"
        --strategy update_returning --index pending_partial
        --lease-ms "$LEASE_MS" --work-ms 0 --out "$dir" --no-progress)
    local rc=0
    if [[ ${#time_v[@]} -gt 0 ]]; then
        "${time_v[@]}" -o "$dir/time.txt" "${cmd[@]}" >"$dir/stdout.txt" 2>"$dir/stderr.txt" || rc=$?
    else
        "${cmd[@]}" >"$dir/stdout.txt" 2>"$dir/stderr.txt" || rc=$?
    fi
    if [[ $rc -ne 0 ]]; then
        cat "$dir/stderr.txt" >&2
        die "leasebench failed (exit $rc) at $n workers; command: ${cmd[*]}"
    fi
    local csv="$dir/latest.csv" json="$dir/latest.json"
    [[ -r $csv && -r $json ]] || die "leasebench wrote no $csv / $json"
    # CSV columns by name (the contract in src/results.rs).
    local row
    row="$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        NR == 2 { print $col["throughput_per_s"], $col["leased"], $col["errors"], $col["empty_polls"], $col["workers"] }' "$csv")"
    local csv_workers
    read -r lb_tput lb_leased lb_errors lb_empty csv_workers <<<"$row"
    [[ $csv_workers == "$n" ]] || die "$csv: expected one row for $n workers, got: $row"
    # Items the producer added: audit.seeded counts the initial seed plus the
    # producer's inserts. (server.tup_inserted is not usable for this: it can
    # include the seed itself, see the report.)
    lb_inserted="$(jq -r --argjson d "$depth" '.cells[0].audit.seeded - $d' "$json")"
    lb_rss="$(jq -r '.environment.peak_rss_bytes' "$json")"
    lb_maxrss_kb="" lb_cpu=""
    if [[ -r $dir/time.txt ]]; then
        lb_maxrss_kb="$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$dir/time.txt")"
        lb_cpu="$(cpu_us_per "$dir/time.txt" "$lb_leased")"
    fi
}

# ---- one pgbench run ----------------------------------------------------------
# Rebuild the table state leasebench's cell starts from (schema::reset_cell).
reset_table() {
    psql_lb <<SQL
TRUNCATE due_work RESTART IDENTITY;
DO \$\$
DECLARE r record;
BEGIN
  FOR r IN SELECT quote_ident(i.relname) AS name FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = 'due_work'::regclass AND NOT x.indisprimary LOOP
    EXECUTE 'DROP INDEX ' || r.name;
  END LOOP;
END
\$\$;
\i $INDEX_SQL
INSERT INTO due_work (task_id, payload, priority, run_at)
SELECT g, jsonb_build_object('n', g, 'kind', 'leasebench'), (g % 5)::int,
       now() - interval '1 second' - (g % 1000) * interval '1 millisecond'
  FROM generate_series(1, $SEED::bigint) AS g;
VACUUM (ANALYZE) due_work;
CHECKPOINT;
SQL
}

# pgbench_run N LABEL: sets pg_tps pg_pending pg_cpu
pgbench_run() {
    local n=$1 log="$logdir/$2.pgbench.txt" timef="$logdir/$2.pgbench.time.txt"
    reset_table
    local rc=0 pre=()
    if [[ ${#time_v[@]} -gt 0 ]]; then pre=("${time_v[@]}" -o "$timef"); fi
    PGOPTIONS="-c search_path=$SCHEMA" "${pre[@]}" "$PGBENCH" -n -M prepared -c "$n" -j 2 -T "$DURATION" \
        -f "$PGB_SCRIPT" -h 127.0.0.1 -p "$port" -U postgres postgres >"$log" 2>&1 || rc=$?
    local counts pending running completed processed failed
    counts="$(psql_lb -At -F ' ' -c "SELECT count(*) FILTER (WHERE status = 'pending'),
        count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'completed')
        FROM due_work")"
    read -r pending running completed <<<"$counts"
    processed="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")"
    pg_tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$log")"
    pg_pending=$pending
    pg_cpu="$(cpu_us_per "$timef" "${processed:-0}")"
    if [[ $rc -ne 0 || -z $pg_tps || ${failed:-0} != 0 ]] || grep -q 'aborted' "$log"; then
        cat "$log" >&2
        die "pgbench failed at $n workers (exit $rc; pending items left: $pending of $SEED seeded)"
    fi
    if [[ $pending -eq 0 ]]; then
        die "pgbench drained the queue at $n workers ($completed completed of $SEED): raise SEED"
    fi
    if [[ $running -ne 0 || $completed -ne $processed ]]; then
        cat "$log" >&2
        die "pgbench at $n workers: $processed transactions but $completed items completed and $running left leased"
    fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- warm-up: leasebench creates and migrates its schema -------------------
say "warm-up: leasebench creates schema $SCHEMA (1 worker, 1 s)"
lb_run 1 1 1000 warmup
[[ $(psql_lb -At -c "SELECT to_regclass('due_work') IS NOT NULL") == t ]] ||
    die "leasebench did not create $SCHEMA.due_work"

# ---- the comparison -----------------------------------------------------------
load_before="$(cut -d" " -f1-3 /proc/loadavg)"
say "pgbench and leasebench, ${DURATION}s each, workers: ${worker_list[*]}, seed $SEED, leasebench --queue-depth $LB_QUEUE_DEPTH, $REPEAT round(s)"
declare -A res_pg res_lb res_ratio res_detail res_pgcpu res_lbcpu
any_fail=false
peak_rss=0
peak_maxrss_kb=0
i=0
for n in "${worker_list[@]}"; do
    pgs=() lbs=() ratios=() pgcpu=() lbcpu=() errs=0 empties=0 inserted=0
    for ((r = 0; r < REPEAT; r++)); do
        label="w${n}-r${r}"
        order=(pgbench leasebench)
        if (((i + r) % 2 == 1)); then order=(leasebench pgbench); fi
        for who in "${order[@]}"; do
            if [[ $who == pgbench ]]; then
                pgbench_run "$n" "$label"
                pgs+=("$pg_tps")
                if [[ -n $pg_cpu ]]; then pgcpu+=("$pg_cpu"); fi
                say "  N=$n round $((r + 1)): pgbench    $pg_tps cycles/s ($pg_pending of $SEED items still pending)"
            else
                lb_run "$n" "$DURATION" "$LB_QUEUE_DEPTH" "$label"
                lbs+=("$lb_tput")
                if [[ -n $lb_cpu ]]; then lbcpu+=("$lb_cpu"); fi
                say "  N=$n round $((r + 1)): leasebench $lb_tput leases/s ($lb_leased leased, errors $lb_errors, empty polls $lb_empty, producer inserted $lb_inserted, peak RSS $((lb_rss / 1048576)) MiB)"
                if ((lb_rss > peak_rss)); then peak_rss=$lb_rss; fi
                if [[ -n $lb_maxrss_kb ]] && ((lb_maxrss_kb > peak_maxrss_kb)); then peak_maxrss_kb=$lb_maxrss_kb; fi
                errs=$((errs + lb_errors)) empties=$((empties + lb_empty)) inserted=$((inserted + lb_inserted))
            fi
        done
        # This round's pair ran back to back, under the same outside load.
        ratios+=("$(awk -v a="$lb_tput" -v b="$pg_tps" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')")
    done
    res_ratio[$n]="$(median "${ratios[@]}")"
    res_pg[$n]="$(median "${pgs[@]}")"
    res_lb[$n]="$(median "${lbs[@]}")"
    detail=""
    if ((errs > 0)); then detail+=", leasebench errors: $errs"; fi
    if ((empties > 0)); then detail+=", leasebench empty polls: $empties"; fi
    if ((inserted > 0)); then detail+=", producer inserted $((inserted / REPEAT))/run"; fi
    res_detail[$n]="${detail#, }"
    res_pgcpu[$n]="$(if [[ ${#pgcpu[@]} -gt 0 ]]; then median "${pgcpu[@]}"; fi)"
    res_lbcpu[$n]="$(if [[ ${#lbcpu[@]} -gt 0 ]]; then median "${lbcpu[@]}"; fi)"
    i=$((i + 1))
done

# ---- the table ----------------------------------------------------------------
echo
echo "leasebench vs pgbench: $pg_version${PG_SETTINGS:+ ($PG_SETTINGS)}, 127.0.0.1, ${DURATION}s per run, seed $SEED, leasebench --queue-depth $LB_QUEUE_DEPTH, median of $REPEAT"
printf '%7s  %17s  %19s  %6s  %s\n' workers "pgbench cycles/s" "leasebench leases/s" ratio result
for n in "${worker_list[@]}"; do
    pg=${res_pg[$n]} lb=${res_lb[$n]}
    ratio="$(awk -v r="${res_ratio[$n]}" 'BEGIN { printf "%.3f", r }')"
    if awk -v r="$ratio" -v m="$MIN_RATIO" 'BEGIN { exit !(r >= m) }'; then
        verdict=PASS
    else
        verdict=FAIL
        any_fail=true
    fi
    printf '%7s  %17.1f  %19.1f  %6s  %s%s\n' "$n" "$pg" "$lb" "$ratio" "$verdict" "${res_detail[$n]:+ (${res_detail[$n]})}"
done
if [[ ${#time_v[@]} -gt 0 ]]; then
    echo
    echo "client CPU per cycle, user+sys microseconds (informational; whole process, so leasebench's"
    echo "fixed per-run costs -- startup, audit of the SEED rows, results files -- are spread over its cycles):"
    printf '%7s  %8s  %10s\n' workers pgbench leasebench
    for n in "${worker_list[@]}"; do
        printf '%7s  %8s  %10s\n' "$n" "${res_pgcpu[$n]:-?}" "${res_lbcpu[$n]:-?}"
    done
fi
echo "load average before/after: $load_before / $(cut -d" " -f1-3 /proc/loadavg) ($(nproc) CPUs; other load on the machine skews both tools)"
if ((REPEAT > 1)); then
    echo "(throughputs: medians over rounds; ratio: median over rounds of leasebench/pgbench within a round)"
fi
echo "leasebench peak RSS: $((peak_rss / 1048576)) MiB (environment.peak_rss_bytes, largest of the runs)"
if ((peak_maxrss_kb > 0)); then
    echo "leasebench max RSS (/usr/bin/time -v): $((peak_maxrss_kb / 1024)) MiB"
fi
if [[ -n $OUT ]]; then echo "logs and leasebench results: $OUT"; fi

if $any_fail; then
    echo "FAIL: leasebench below ${MIN_RATIO}x pgbench at some worker count"
    exit 1
fi
echo "PASS: leasebench within ${MIN_RATIO}x of pgbench at every worker count"
exit 0
