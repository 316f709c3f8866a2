cd /work/main && . .venv/bin/activate
W=$1
for s in bsds sbd dsb; do
  python /tmp/tex/maps.py $s $W
  python /tmp/tex/spb.py $s $W 2
done
echo DONE
