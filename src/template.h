/* template.h — template benchmark definitions (docs/templates.md): a YAML file of templates with
 * slots ({NAME}, {GROUP}, {ADJ:agree=GROUP}), per-culture / per-language slot lists, agreement
 * forms, and one rule (pairs or mc) that turns every combination of fillers into items. Expanded
 * in a fixed order (templates in file order, cultures in file order, slot fillers in list order,
 * the rightmost slot fastest) into the generic JSON lines of src/data/jsonl.c, or straight into
 * items for `format: template` in a run config. Every problem is one "FILE:LINE:COL: problem" line,
 * all of them collected before anything is written. */
#ifndef QUIPU_TEMPLATE_H
#define QUIPU_TEMPLATE_H

#include <stddef.h>
#include <stdio.h>

#include "common.h"
#include "config.h"
#include "item.h"

/* The expanded items of one definition (opaque). */
typedef struct quipu_template_set quipu_template_set;

/* Parses and expands the definition held in buf (len bytes, read from `path`, which names it in
 * messages and in each item's source). On success *out is a new set (free with
 * quipu_template_free). On failure *out is NULL and every problem is appended to errs, in file
 * order; QUIPU_ERR_FORMAT for malformed YAML, QUIPU_ERR_INVALID for a definition problem,
 * QUIPU_ERR_NOMEM. */
quipu_status quipu_template_expand(const char *path, const char *buf, size_t len, quipu_template_set **out,
                                   quipu_error_list *errs);
/* The same, reading the file first (an unreadable file is one QUIPU_ERR_IO message). */
quipu_status quipu_template_expand_file(const char *path, quipu_template_set **out, quipu_error_list *errs);
void quipu_template_free(quipu_template_set *s); /* accepts NULL */

size_t quipu_template_count(const quipu_template_set *s);
quipu_item_kind quipu_template_kind(const quipu_template_set *s);
size_t quipu_template_n_templates(const quipu_template_set *s);

/* Writes the items as the generic JSON lines (pairs or mc, one object per line). */
quipu_status quipu_template_write_jsonl(const quipu_template_set *s, FILE *f, quipu_error *err);

/* Pushes the items into a loader context (src/data/data_internal.h), as src/data/jsonl.c would
 * for the written file: ids "<label>:<id>", filters and limit applied by the context; each item's
 * source is the "FILE:LINE:COL" of its template. */
struct ld_ctx;
quipu_status quipu_template_push_items(const quipu_template_set *s, struct ld_ctx *c);

/* `quipu expand DEF.yaml [-o OUT.jsonl]`: exit status 0, or 2 with every problem on stderr. */
int quipu_template_main(int argc, char **argv);

#endif
