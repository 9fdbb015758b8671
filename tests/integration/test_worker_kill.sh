#!/usr/bin/env bash
# A worker killed (SIGKILL) while jobs are queued: the remaining workers finish them all.
# Private cluster (nginx_lib.sh): nginx, one coordinator, three workers, leases of 3 s.
# Workers 2 and 3 are frozen (SIGSTOP) so jobs pile up; clients ask nginx for 24 cold tiles
# of distinct metatiles at once; as soon as worker 1 holds a job and others are still queued,
# it is frozen (so it cannot finish that job), checked, and killed with SIGKILL; workers 2 and
# 3 are let go. Every client must get its tile (200/204), the killed worker's job must be
# rendered again by another worker (its lease expired and was reaped), and nothing may be left
# queued, running or dead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nginx_lib.sh"

ng_up 1 3 3

wpid() { cat "$NG_DIR/worker$1.pid"; }
kill -STOP "$(wpid 2)" "$(wpid 3)"

N=24
cpids=()
for ((i = 0; i < N; i++)); do
    # Distinct metatiles at z13 over Europe (x, y multiples of 8).
    path=/demo/13/$((4096 + 8 * (i % 8)))/$((2688 + 8 * (i / 8))).mvt
    (curl -s -o /dev/null --max-time 120 -w "%{http_code} $path\n" "$NG_URL$path" \
        >"$IT_TMP/req.$i" 2>&1 || echo "000 $path" >"$IT_TMP/req.$i") &
    cpids+=($!)
done

# Wait until worker 1 runs a job while others wait in the queue; freeze it and check again
# (the job may have finished between the look and the SIGSTOP).
victim_job=""
try=0
while [[ -z $victim_job && $try -lt 400 ]]; do
    try=$((try + 1))
    for id in $(ng_redis ZRANGE '{tq}:running' 0 -1); do
        if [[ $(ng_redis HGET "{tq}:job:$id" worker) == "${NG_WORKER_IDS[1]}" ]]; then
            kill -STOP "$(wpid 1)"
            if [[ $(ng_redis HGET "{tq}:job:$id" worker) == "${NG_WORKER_IDS[1]}" &&
                $(ng_redis HGET "{tq}:job:$id" state) == running &&
                $(ng_redis LLEN '{tq}:q:interactive') -gt 0 ]]; then
                victim_job=$id
            else
                kill -CONT "$(wpid 1)"
            fi
            break
        fi
    done
    [[ -n $victim_job ]] || sleep 0.02
done
if [[ -z $victim_job ]]; then
    kill -CONT "$(wpid 2)" "$(wpid 3)"
    it_fail "worker 1 never held a job while others were queued"
    wait "${cpids[@]}" || true
    it_done
fi
queued=$(ng_redis LLEN '{tq}:q:interactive')
echo "killing worker 1 (pid $(wpid 1)) holding $victim_job; $queued jobs queued"
kill -KILL "$(wpid 1)"
kill -CONT "$(wpid 2)" "$(wpid 3)"
wait "${cpids[@]}" || true

bad=$(cat "$IT_TMP"/req.* | grep -vcE '^(200|204) ' || true)
echo "answers: $(cut -d' ' -f1 "$IT_TMP"/req.* | sort | uniq -c | tr '\n' ' ')"
it_check "all $N requests answered 200/204" 0 "$bad"
[[ $bad -eq 0 ]] || grep -vE '^(200|204) ' "$IT_TMP"/req.* >&2
# The victim's client may have its answer (its tile rendered first) while the rest of that
# metatile waits for the lease to expire: let the queue drain (bounded) before looking.
ng_wait_queue_drained
it_check "nothing left queued/running/dead" "0 0 0" \
    "$(ng_redis LLEN '{tq}:q:interactive') $(ng_redis ZCARD '{tq}:running') $(ng_redis ZCARD '{tq}:dead')"

# The killed worker's job was finished by another worker (the job is gone from Redis on
# success, so look at the render log: its tile rendered by worker 2 or 3).
IFS=/ read -r _ z mx my <<<"$victim_job"
renderers=$({
    ng_redis --raw XRANGE '{tq}:renderlog' - + | awk -v j="$victim_job" '
        k == "job" { job = $0 } k == "worker" { w = $0 }
        /^[0-9]+-[0-9]+$/ { if (job == j) print w; job = ""; k = ""; next }
        { k = (k == "") ? $0 : "" }
        END { if (job == j) print w }'
    it_psql -c "SELECT worker FROM tileq.render_log WHERE job_id = '$victim_job'
                AND worker LIKE 'ng-$NG_TEST-${NG_DIR##*.}-%'"
} | sort -u | tr '\n' ' ')
case " $renderers" in
*" ${NG_WORKER_IDS[2]} "* | *" ${NG_WORKER_IDS[3]} "*) echo "ok: $victim_job rendered by: $renderers" ;;
*) it_fail "$victim_job not rendered by worker 2 or 3 (render log: '$renderers')" ;;
esac
[[ -f $NG_CACHE/demo/$z/$mx/$my.mvt.gz || -f $NG_CACHE/demo/$z/$mx/$my.empty ]] ||
    it_fail "$victim_job: its top-left tile is not in the cache"
grep -q 'reaped' "$NG_DIR"/worker2.log "$NG_DIR"/worker3.log ||
    it_fail "no surviving worker logged reaping the expired lease"

it_done
