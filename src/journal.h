/* journal.h — the resume journal: every rank appends the records of the items it finished to
 * its own file, one JSON line per item, flushed and fsync'ed per batch, so a run killed at any
 * moment loses at most the batch in flight. Files live in DIR/journal/<name>/ (run.c: "units"),
 * one per rank and attempt; --resume reads all of them (whatever the rank count that wrote them),
 * ignores a torn last line, and skips the items already there. A record's key is
 * "model name|fingerprint|backend/dtype/max_length|label|item id|digest of the text scored"
 * (run.c unit_key), so two config entries of one benchmark with other prompts or choices never
 * share records, and any config reuses the units it has in common with an earlier one.
 * Log-probs are written with 17 significant digits, which read back to the same bits. */
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

/* Reads every journal file of dir/journal/<name>/. A torn or unparsable last line of a file is
 * ignored (a crash mid-write); an unparsable line elsewhere is an error naming file:line.
 * Duplicate ids (the same item finished twice across attempts) keep the first record. */
quipu_status quipu_journal_read_all(const char *dir, const char *name, quipu_journal_entry **entries, size_t *n,
                                    quipu_error *err);
void quipu_journal_entries_free(quipu_journal_entry *entries, size_t n);

#endif
