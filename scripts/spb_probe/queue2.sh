cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1
W=$1; J=$2
i=0
while read -r line; do
  i=$((i+1)); [ $((i % 2)) -eq $W ] || continue
  echo "== $line"; eval "$line"
done < $J
echo QDONE
