/* run.h — `quipu run CONFIG [--set key=value]... [--resume]`: the evaluation pipeline. Every
 * rank reads and checks the config and the benchmarks the same way, items are shared out by a
 * deterministic length-balanced map, each rank scores its items and journals them per batch,
 * rank 0 gathers every record and writes the results (docs/results.md). */
#ifndef QUIPU_RUN_H
#define QUIPU_RUN_H

#include "common.h"

/* Exit status after SIGUSR1/SIGTERM/SIGINT: the current batch was finished and journaled; rerun
 * with --resume (sbatch scripts requeue on it). */
#define QUIPU_EXIT_REQUEUE 75

/* argc/argv start at "run". Returns the process exit status. */
int quipu_run_main(int argc, char **argv);

#endif
