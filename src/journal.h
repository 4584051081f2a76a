/* journal.h — the resume journal: every rank appends the records of the items it finished to
 * its own file, one JSON line per item, flushed and fsync'ed per batch, so a run killed at any
 * moment loses at most the batch in flight. Files live in DIR/journal/<name>/ (run.c: "units"),
 * one per rank and attempt; --resume reads all of them (whatever the rank count that wrote them),
 * ignores a torn last line, and skips the items already there. A record's key is
 * "model name|fingerprint|backend/dtype/max_length|label|item id|digest of the text scored"
 * (run.c unit_key), so two config entries of one benchmark with other prompts or choices never
 * share records, and any config reuses the units it has in common with an earlier one.
 * Log-probs are written with 17 significant digits, which read back to the same bits.
 * Each line ends with "ck": the CRC-32 of the line's bytes before that member. On reading, a line
 * whose checksum does not match, a line without one in a file that has them, an unparsable
 * line, or a field out of range (log-prob not finite or > 0, token or byte count negative or
 * past 2^24 / 2^30, greedy flag not 0/1) is damaged: it is reported as a warning naming
 * file:line and dropped, so its item is scored again, never trusted. Journals written before
 * checksums (no line has one) are read with the range checks only. */
#ifndef QUIPU_JOURNAL_H
#define QUIPU_JOURNAL_H

#include "common.h"
#include "item.h"

typedef struct quipu_journal quipu_journal;

/* A finished item read back from a journal. */
typedef struct quipu_journal_entry {
    char *id;
    quipu_item_record rec;   /* item_index is -1: the caller maps ids to its items */
} quipu_journal_entry;

/* Opens a new journal file for this rank and attempt under dir/journal/<name>/. */
quipu_status quipu_journal_open(quipu_journal **out, const char *dir, const char *name, int rank, quipu_error *err);
/* Buffers one finished item. */
quipu_status quipu_journal_add(quipu_journal *j, const char *item_id, const quipu_item_record *rec, quipu_error *err);
/* Writes the buffered items, then fflush + fsync: the batch is durable when this returns OK.
 * A full disk or any write error is reported with the file name; the lines already synced stay
 * valid. */
quipu_status quipu_journal_sync(quipu_journal *j, quipu_error *err);
void quipu_journal_close(quipu_journal *j);

/* Reads every journal file of dir/journal/<name>/. A torn last line of a file (no newline: a
 * crash mid-write) is ignored; a damaged line anywhere is a warning naming file:line and its
 * item is left out (scored again).
 * Duplicate ids (the same item finished twice across attempts) keep the first record. */
quipu_status quipu_journal_read_all(const char *dir, const char *name, quipu_journal_entry **entries, size_t *n,
                                    quipu_error *err);
void quipu_journal_entries_free(quipu_journal_entry *entries, size_t n);

#endif
