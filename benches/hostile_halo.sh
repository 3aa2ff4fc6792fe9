#!/usr/bin/env bash
# What a sync does when Halo (or a proxy) misbehaves for one day: a clean October sync,
# then `sync --period 2026-10 --refresh` against `simulate --misbehave X --misbehave-on 2026-10-15`
# for each misbehaviour; prints exit code and stored October actions before -> after, and
# the lines that say why. Also a damaged NDJSON import. Usage: BIN=target/release/halo-billing benches/hostile_halo.sh
B=$(realpath "${BIN:-target/release/halo-billing}")
W=$(mktemp -d)
cd "$W"
export HALO_CLIENT_ID=demo HALO_CLIENT_SECRET=demo-secret XDG_CONFIG_HOME=$W/cfg
DATA="--actions 30000 --seed 42"
start_sim() { # args: extra simulator flags
  $B -q simulate --port 0 $DATA "$@" > sim.out 2>/dev/null &
  SIM=$!
  for _ in $(seq 100); do grep -q listening sim.out 2>/dev/null && break; sleep 0.05; done
  export HALO_URL=$(sed -n 's/listening on //p' sim.out)
}
count() { $B report contracts --store "$1" --period 2026-10 2>/dev/null | awk -F, 'NR>1{s+=$3} END{print s}'; }
start_sim
$B -q sync --store clean --period 2026-10 --rate-limit 0 >/dev/null 2>&1
kill $SIM; wait $SIM 2>/dev/null
echo "clean store: $(count clean) October actions; 2026-10-15 holds $($B report contracts --store clean --from 2026-10-15 --to 2026-10-16 | awk -F, 'NR>1{s+=$3} END{print s}')"
for how in html empty error-json nan empty-page; do
  rm -rf s; cp -r clean s
  start_sim --misbehave $how --misbehave-on 2026-10-15
  $B sync --store s --period 2026-10 --refresh --rate-limit 0 --max-retries 2 > out.txt 2>&1
  code=$?
  kill $SIM; wait $SIM 2>/dev/null
  echo "| $how | $code | $(count clean) -> $(count s) |"
  grep -E "error:|held back|stored copy|deleted nothing|refused" out.txt | head -4 | sed 's/^/    /'
done
# NDJSON: 401 records, one line without its closing brace, another without a quote.
python3 - <<'PY'
lines=[]
for i in range(1,402):
    lines.append('{"id":%d,"ticket_id":42,"datetime":"2026-10-05T10:00:00Z","timetaken":0.25,"action_contract_id":7,"actionchargeamount":1.0,"note":"entry %d"}' % (i,i))
lines[100]=lines[100][:-1]
lines[200]=lines[200].replace('"entry','entry',1)
open('damaged.ndjson','w').write("\n".join(lines)+"\n")
PY
$B import --store n damaged.ndjson > imp.txt 2>&1; code=$?
echo "NDJSON 401 records, 2 damaged: exit $code; imported $($B report contracts --store n --period 2026-10 | awk -F, 'NR>1{s+=$3} END{print s}'); $(grep -c 'refused ' imp.txt) refusals printed"
grep "refused " imp.txt | cut -c1-160 | sed 's/^/    /'
rm -rf "$W"
