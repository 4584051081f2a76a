/* report_expected.h — `quipu report --expected FILE RUN_DIR`: a run's metric rows held against
 * published numbers (a config's `expected:` list, or a file holding only that list): per
 * expected row the published value and interval, quipu's value [CI] (n), the difference, whether
 * quipu's value lies in the published interval and whether the intervals overlap; rows the run
 * lacks are listed as missing. docs/reproduce.md explains the table. */
#ifndef QUIPU_REPORT_EXPECTED_H
#define QUIPU_REPORT_EXPECTED_H

#include <stdio.h>

#include "common.h"

/* z of the two-sided 95% normal interval: a published stderr s becomes value ± z·s. */
#define QUIPU_EXPECTED_Z95 1.959963984540054

/* Reads the expected list at expected_path and run_dir's summary.json, prints the markdown table
 * on `print` (NULL: nowhere) and writes OUT/expected.md and OUT/expected.csv (OUT = out_dir, or
 * "report"; created with its parents). Errors are one line naming the file: an unreadable or
 * invalid expected file (its first problem, FILE:LINE:COL, and how many more), a file without
 * `expected:`, a run folder that cannot be read, an unwritable OUT. */
quipu_status quipu_report_expected(const char *expected_path, const char *run_dir, const char *out_dir, FILE *print,
                                   quipu_error *err);

#endif
