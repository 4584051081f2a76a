/* config_assoc.c — a benchmark entry's `association_templates` (docs/config.md): for the SeeGULL
 * association benchmarks, the templates per language that replace the built-in defaults of
 * src/data/assoc.c for that language:
 *
 *   association_templates:
 *     es: [{id: label, text: "{identity}: {attribute}", neutral: "Personas: {attribute}"}]
 *
 * Every problem is reported at its node, as the rest of the config. */
#define _POSIX_C_SOURCE 200809L
#include "config_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/assoc.h"

static const char *const k_tpl_keys[] = {"id", "text", "neutral", NULL};

static int is_assoc_benchmark(const char *name) {
    return name && (!strcmp(name, "seegull") || !strcmp(name, "seegull_multilingual"));
}

void cfg_assoc_templates_free(quipu_config_benchmark *b) {
    for (int i = 0; i < b->n_assoc_templates; i++) {
        quipu_assoc_template *t = &b->assoc_templates[i];
        free((char *)t->language);
        free((char *)t->id);
        free((char *)t->text);
        free((char *)t->neutral);
    }
    free(b->assoc_templates);
    b->assoc_templates = NULL;
    b->n_assoc_templates = 0;
}

void cfg_read_assoc_templates(vctx *c, const cnode *m, quipu_config_benchmark *b) {
    loader *L = c->L;
    const cnode *map = NULL;
    char kp[700];
    cfg_kp_join(kp, sizeof kp, c->kp, "association_templates");
    /* the association benchmarks build their prompts from templates: a prompt or delimiter would
     * be silently ignored, so it is an error */
    static const char *const mc_keys[] = {"prompt", "delimiter"};
    for (int k = 0; k < 2 && is_assoc_benchmark(b->name) && b->format == QUIPU_CFG_FORMAT_BUILTIN; k++) {
        const cnode *v = cfg_map_get(m, mc_keys[k], NULL);
        char pkp[700];
        cfg_kp_join(pkp, sizeof pkp, c->kp, mc_keys[k]);
        if (v) cfg_err_key(L, v, pkp, "'%s' builds its prompts from association_templates; it takes no %s", b->name, mc_keys[k]);
    }
    if (cfg_get_map(c, m, "association_templates", &map) <= 0) return;
    if (b->name && !is_assoc_benchmark(b->name)) {
        cfg_err_key(L, map, kp, "applies to the association benchmarks (seegull, seegull_multilingual), not to '%s'", b->name);
        return;
    }
    if (map->n == 0) {
        cfg_err_key(L, map, kp, "must name at least one language (or leave the key out for the defaults)");
        return;
    }
    int total = 0;
    for (int i = 0; i + 1 < map->n; i += 2) total += map->kid[i + 1]->kind == CN_SEQ ? map->kid[i + 1]->n : 0;
    b->assoc_templates = calloc((size_t)(total ? total : 1), sizeof *b->assoc_templates);
    if (!b->assoc_templates) {
        L->oom = 1;
        return;
    }
    for (int i = 0; i + 1 < map->n; i += 2) {
        const cnode *key = map->kid[i], *list = map->kid[i + 1];
        char lkp[760];
        snprintf(lkp, sizeof lkp, "%s.%s", kp, key->text ? key->text : "");
        if (!key->text || !quipu_bcp47_ok(key->text)) {
            cfg_err_key(L, key, lkp, "'%s' is not a BCP-47 language tag (e.g. es, es-MX, fr-FR)", key->text ? key->text : "");
            continue;
        }
        if (list->kind != CN_SEQ || list->n == 0) {
            if (list->kind == CN_SEQ) cfg_err_key(L, list, lkp, "must list at least one template");
            else cfg_type_err(L, list, lkp, "a list of templates ({id, text, neutral})");
            continue;
        }
        if (list->n > QUIPU_ASSOC_MAX_TEMPLATES) {
            cfg_err_key(L, list, lkp, "%d templates; at most %d per language", list->n, QUIPU_ASSOC_MAX_TEMPLATES);
            continue;
        }
        int first = b->n_assoc_templates;
        for (int k = 0; k < list->n; k++) {
            const cnode *t = list->kid[k];
            vctx tc = {.L = L};
            snprintf(tc.kp, sizeof tc.kp, "%.480s.%d", lkp, k);
            if (t->kind != CN_MAP) {
                cfg_type_err(L, t, tc.kp, "a mapping {id, text, neutral}");
                continue;
            }
            cfg_unknown_keys(L, t, tc.kp, k_tpl_keys);
            char *id = NULL, *text = NULL, *neutral = NULL;
            const cnode *idn = NULL, *tn = NULL;
            int hi = cfg_get_str(&tc, t, "id", 1, &id, &idn), ht = cfg_get_str(&tc, t, "text", 1, &text, &tn),
                hn = cfg_get_str(&tc, t, "neutral", 1, &neutral, NULL);
            if (hi == 0) cfg_missing(L, t, tc.kp, "id", NULL);
            if (ht == 0) cfg_missing(L, t, tc.kp, "text", " (a prompt with {identity}, ending with {attribute})");
            if (hn == 0) cfg_missing(L, t, tc.kp, "neutral", " (the same prompt about a neutral subject, ending with {attribute})");
            int ok = hi > 0 && ht > 0 && hn > 0;
            char ikp[800];
            if (hi > 0 && !cfg_valid_name(id)) {
                snprintf(ikp, sizeof ikp, "%s.id", tc.kp);
                cfg_err_key(L, idn, ikp, "'%s' may only contain letters, digits, '.', '_' and '-' (it is part of item ids)", id);
                ok = 0;
            }
            for (int j = first; ok && j < b->n_assoc_templates; j++)
                if (!strcmp(b->assoc_templates[j].id, id)) {
                    snprintf(ikp, sizeof ikp, "%s.id", tc.kp);
                    cfg_err_key(L, idn, ikp, "template '%s' is given twice for language '%s'", id, key->text);
                    ok = 0;
                }
            const char *why = ok ? quipu_assoc_template_check(text, neutral) : NULL;
            if (why) {
                snprintf(ikp, sizeof ikp, "%s.text", tc.kp);
                cfg_err_key(L, tn, ikp, "%s", why);
                ok = 0;
            }
            char *lang = ok ? strdup(key->text) : NULL;
            if (ok && !lang) L->oom = 1;
            if (!ok || !lang) {
                free(id);
                free(text);
                free(neutral);
                free(lang);
                continue;
            }
            quipu_assoc_template *dst = &b->assoc_templates[b->n_assoc_templates++];
            dst->language = lang;
            dst->id = id;
            dst->text = text;
            dst->neutral = neutral;
        }
    }
}

json_t *cfg_assoc_templates_json(const quipu_config_benchmark *b) {
    if (!b->n_assoc_templates) return NULL;
    json_t *o = json_object();
    for (int i = 0; o && i < b->n_assoc_templates; i++) {
        const quipu_assoc_template *t = &b->assoc_templates[i];
        json_t *list = json_object_get(o, t->language);
        if (!list) {
            list = json_array();
            json_object_set_new(o, t->language, list);
        }
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(t->id));
        json_object_set_new(j, "text", json_string(t->text));
        json_object_set_new(j, "neutral", json_string(t->neutral));
        json_array_append_new(list, j);
    }
    return o;
}
