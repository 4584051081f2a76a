/* unicode_tables.h — character classes and case maps as Hugging Face tokenizers sees them.
 * The data (unicode_tables.c) is generated from the reference library by
 * scripts/golden/make_token_golden.py tables, so quipu does not depend on the Unicode version
 * of the local PCRE2 or utf8proc for these answers. Ranges are sorted and inclusive. */
#ifndef QUIPU_TOK_UNICODE_TABLES_H
#define QUIPU_TOK_UNICODE_TABLES_H

#include <stddef.h>
#include <stdint.h>

typedef struct quipu_u_range { uint32_t lo, hi; } quipu_u_range;
typedef struct quipu_u_map { uint32_t from, to; } quipu_u_map;
typedef struct quipu_u_map3 { uint32_t from; uint32_t n; uint32_t to[3]; } quipu_u_map3;

#define QUIPU_U_TABLE(name) \
    extern const quipu_u_range quipu_u_##name[]; extern const size_t quipu_u_##name##_n;
/* Oniguruma regex classes: \p{L}, \p{N}, \s, \d, \w. */
QUIPU_U_TABLE(rx_L)
QUIPU_U_TABLE(rx_N)
QUIPU_U_TABLE(rx_s)
QUIPU_U_TABLE(rx_d)
QUIPU_U_TABLE(rx_w)
/* Rust char::is_numeric (Digits), char::is_whitespace, regex-crate \w (Whitespace). */
QUIPU_U_TABLE(numeric)
QUIPU_U_TABLE(white)
QUIPU_U_TABLE(word)
/* unicode_categories crate: ASCII punctuation or P* (Punctuation, BertPreTokenizer);
 * Cc|Cf|Co (BertNormalizer clean_text); Mn (strip_accents); M* (StripAccents). */
QUIPU_U_TABLE(punct)
QUIPU_U_TABLE(bert_other)
QUIPU_U_TABLE(mn)
QUIPU_U_TABLE(mark)
/* Code points that NFD / NFKD change (others are left as they are). */
QUIPU_U_TABLE(nfd_dec)
QUIPU_U_TABLE(nfkd_dec)
#undef QUIPU_U_TABLE

/* Lowercase: sorted by from; the multi table holds the few that become several chars. */
extern const quipu_u_map quipu_u_lower[];
extern const size_t quipu_u_lower_n;
extern const quipu_u_map3 quipu_u_lower_multi[];
extern const size_t quipu_u_lower_multi_n;

#endif
