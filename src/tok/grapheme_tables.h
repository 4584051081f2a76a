/* grapheme_tables.h — Grapheme_Cluster_Break classes for the Precompiled normalizer, which walks
 * extended grapheme clusters (UAX #29) as the unicode-segmentation crate inside tokenizers does.
 * The data (grapheme_tables.c) is generated from that crate's own tables by
 * scripts/golden/make_token_golden.py graphemes. */
#ifndef QUIPU_TOK_GRAPHEME_TABLES_H
#define QUIPU_TOK_GRAPHEME_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* The crate's classes: the GCB property value, except that InCB=Consonant and
 * Extended_Pictographic code points (GCB Other) get classes of their own. */
typedef enum quipu_gcb {
    QUIPU_GCB_ANY, QUIPU_GCB_CR, QUIPU_GCB_LF, QUIPU_GCB_CONTROL, QUIPU_GCB_EXTEND, QUIPU_GCB_ZWJ,
    QUIPU_GCB_RI, QUIPU_GCB_PREPEND, QUIPU_GCB_SPACINGMARK, QUIPU_GCB_L, QUIPU_GCB_V, QUIPU_GCB_T,
    QUIPU_GCB_LV, QUIPU_GCB_LVT, QUIPU_GCB_INCB_CONSONANT, QUIPU_GCB_EXT_PICT
} quipu_gcb;
#define QUIPU_GCB_CLASS_MASK 0x3F
#define QUIPU_GCB_INCB_LINKER 0x40
#define QUIPU_GCB_INCB_EXTEND 0x80

typedef struct quipu_gcb_range { uint32_t lo, hi; uint8_t v; } quipu_gcb_range;
extern const quipu_gcb_range quipu_gcb_table[];
extern const size_t quipu_gcb_table_n;

#endif
