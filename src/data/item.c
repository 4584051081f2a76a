/* item.c — freeing and copying items (item.h) and item arrays (loaders.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "data/loaders.h"
#include "item.h"
#include "data/data_internal.h"

void quipu_item_free(quipu_item *it) {
    if (!it) return;
    free(it->id);
    free(it->benchmark);
    free(it->language);
    free(it->culture);
    free(it->category);
    free(it->source);
    free(it->more);
    free(it->less);
    free(it->context);
    free(it->question);
    for (int i = 0; i < QUIPU_MAX_CHOICES; i++) free(it->choices[i]);
    free(it->group);
    free(it->template_id);
    free(it->swap);
    if (it->contexts)
        for (int i = 0; i < it->n_choices && i < QUIPU_MAX_CHOICES; i++) free(it->contexts[i]);
    free(it->contexts);
    memset(it, 0, sizeof *it);
}

void quipu_items_free(quipu_item *items, size_t n) {
    if (!items) return;
    for (size_t i = 0; i < n; i++) quipu_item_free(&items[i]);
    free(items);
}

int ld_swap_keys(const json_t *v, char **out) {
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 256) return -2;
    size_t len = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *k = json_array_get(v, i);
        if (!json_is_string(k) || !*json_string_value(k) || strchr(json_string_value(k), '\n')) return -2;
        len += strlen(json_string_value(k)) + 1;
    }
    char *s = malloc(len);
    if (!s) return -1;
    size_t at = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *k = json_string_value(json_array_get(v, i));
        size_t n = strlen(k);
        memcpy(s + at, k, n);
        at += n;
        s[at++] = i + 1 < json_array_size(v) ? '\n' : '\0';
    }
    *out = s;
    return 0;
}

static int dup_field(char **p) {
    if (!*p) return 0;
    *p = strdup(*p);
    return *p ? 0 : -1;
}

int quipu_item_copy(quipu_item *dst, const quipu_item *src) {
    *dst = *src;
    dst->contexts = NULL;
    int bad = 0;
    char **str[] = {&dst->id, &dst->benchmark, &dst->language, &dst->culture, &dst->category, &dst->source, &dst->more,
                    &dst->less, &dst->context, &dst->question, &dst->group, &dst->template_id, &dst->swap};
    for (size_t i = 0; i < sizeof str / sizeof *str; i++)
        if (dup_field(str[i])) *str[i] = NULL, bad = 1;
    for (int i = 0; i < QUIPU_MAX_CHOICES; i++)
        if (dup_field(&dst->choices[i])) dst->choices[i] = NULL, bad = 1;
    if (src->contexts && !bad) {
        dst->contexts = calloc(QUIPU_MAX_CHOICES, sizeof *dst->contexts);
        for (int i = 0; dst->contexts && i < src->n_choices && i < QUIPU_MAX_CHOICES; i++)
            if (src->contexts[i] && !(dst->contexts[i] = strdup(src->contexts[i]))) bad = 1;
        if (!dst->contexts) bad = 1;
    }
    if (bad) quipu_item_free(dst);
    return bad ? -1 : 0;
}
