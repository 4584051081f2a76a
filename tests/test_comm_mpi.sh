# test_comm_mpi.sh — test_comm under mpirun with 2 and 4 ranks (skipped, saying why, in a build
# without MPI or where mpirun is missing).
. "$QUIPU_SOURCE_DIR/tests/common.sh"
bin="$QUIPU_TEST_BIN_DIR/test_comm"
command -v mpirun >/dev/null || skip "mpirun not found"
"$bin" | grep -q "MPI on" || skip "this build has no MPI (configure with -DQUIPU_MPI=ON and an MPI installed)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for n in 2 4; do
  if mpirun -n $n --oversubscribe "$bin" > "$TMPD/out" 2>&1 && grep -q "ranks: $n" "$TMPD/out"; then ok "mpirun -n $n"; else fail "mpirun -n $n: $(tail -5 "$TMPD/out")"; fi
done
finish
