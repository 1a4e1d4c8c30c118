#!/bin/bash
# While a 10M-row ingest runs: status, findings and trace from another process, a second
# writer with --no-wait, and --wait with a short timeout; each line timestamped.
# Not a test: it prints. Run from the repository root:  bash benchmarks/concurrency_10m.sh
REPO=$(pwd) VENV=${VENV:-$(pwd)/.venv} WORK=${WORK:-/tmp/auditlog-concurrency}
mkdir -p "$WORK"
A=$VENV/bin/auditlog
DB=$WORK/big.duckdb
cd $WORK
ts() { date -u +%H:%M:%S.%N | cut -c1-12; }
$VENV/bin/python -c "
import sys; sys.path.insert(0, '$REPO/benchmarks')
from pathlib import Path
from bench_ingest import ensure_data
ensure_data(Path('$WORK'), 'csv', 10_000_000, print)"
rm -f $DB*
$VENV/bin/python -c "
import auditlog
with auditlog.open('$DB') as inv:
    inv.ingest_world('$REPO/sample_logs'); inv.run()" >/dev/null 2>&1
CHARGE=$(sed -n 2p $REPO/sample_logs/ground_truth/remediation.csv | cut -d, -f1)
echo "$(ts) start ingest 10M"
( /usr/bin/time -f "ingest wall %e s" $A ingest $WORK/actions-10000000.csv --kind actions --db $DB --format json > ingest.json 2> ingest.err; echo "$(ts) ingest done rc=$?" ) &
sleep 20
for cmd in "status" "findings" "trace charge $CHARGE"; do
  s=$(date +%s.%N); $A $cmd --db $DB --format json > out.json 2> err.txt; rc=$?; e=$(date +%s.%N)
  echo "$(ts) $cmd: rc=$rc in $(echo "$e - $s" | bc) s, $(wc -c < out.json) bytes; stderr: $(cat err.txt)"
done
s=$(date +%s.%N); $A --no-wait ingest $REPO/sample_logs/iam --db $DB > out.json 2> err.txt; rc=$?; e=$(date +%s.%N)
echo "$(ts) second writer --no-wait: rc=$rc in $(echo "$e - $s" | bc) s; stderr: $(cat err.txt)"
s=$(date +%s.%N); $A --wait --wait-timeout 3 status --db $DB > out.json 2> err.txt; rc=$?; e=$(date +%s.%N)
echo "$(ts) --wait --wait-timeout 3 status: rc=$rc in $(echo "$e - $s" | bc) s; stderr: $(cat err.txt)"
wait
cat ingest.err | tail -2
ls -la $DB*
s=$(date +%s.%N); $VENV/bin/python -c "
import time
from auditlog import store
t=time.perf_counter(); con=store.connect('$DB'); print('writer open incl. snapshot refresh', round(time.perf_counter()-t,2), 's'); con.close()
t=time.perf_counter(); con=store.connect('$DB'); print('writer open, snapshot current', round(time.perf_counter()-t,2), 's'); con.close()"
