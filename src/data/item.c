/* item.c — freeing items (item.h) and item arrays (loaders.h). */
#include <stdlib.h>
#include <string.h>

#include "data/loaders.h"
#include "item.h"

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
