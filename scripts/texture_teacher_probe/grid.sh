cd /work/main && . .venv/bin/activate
i=0
for job in "head compact" "head compact:compactness=30" "hd compact" "hd compact:compactness=30" "hd compact:contour=6" "hd compact:contour=6:compactness=30" "hdt compact" "hdt compact:compactness=30" "hdt compact:contour=6" "hdt compact:contour=6:compactness=30"; do
 set -- $job
 for s in bsds sbd; do
  i=$((i+1)); [ $((i % 2)) -eq $W ] || continue
  python /tmp/tex/run.py --set $s --map $1 --spec $2 --log /tmp/tex/grid.jsonl
 done
done
