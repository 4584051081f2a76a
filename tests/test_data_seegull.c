/* test_data_seegull.c — the SeeGULL association loaders (src/data/seegull.c, docs/benchmarks.md
 * "SeeGULL"): the stereotype rule, the contrast identities, the cap of 14, the tuples left out, the
 * weights, the prompts of the templates and the item ids, worked out by hand on small files written
 * here in the staged layout; the association templates (given, defaults, checks); bad rows and a
 * missing datasets folder; and, where ../shared/datasets is staged, the counts of every file
 * against a Python recount (below). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "data/assoc.h"
#include "data/loaders.h"
#include "testlib.h"

static char g_dir[4096];

static void write_file(const char *rel, const char *text) { test_write_under(g_dir, rel, text); }

static const quipu_item *find(const quipu_item *it, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(it[i].id, id)) return &it[i];
    fprintf(stderr, "no item %s\n", id);
    return NULL;
}

#define ML_ES "seegull-multilingual/dataset/stereotypes/Spanish (es) in Mexico.csv"
#define ML_HDR "identity,attribute,non_stereotype,stereotype,unsure,mean_offensive_score,translated_identity,translated_attribute_list\n"

/* FNV-1a 64 of a byte string: the cap's order, written out here rather than taken from quipu */
static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static void test_slice(void) {
    /* rows (data row number first):
     *  1 A flojo  stereo 3/3, offensiveness 2 -> weight 3     a stereotype tuple
     *  2 B flojo  stereo 1/3                                   contrast of flojo
     *  3 C flojo  stereo 2/3, offensiveness 0.5 -> weight 1.5  a stereotype tuple
     *  4 D flojo  1 stereo, 1 not, 1 unsure                    contrast (1 of 3 is not 2 of 3)
     *  5 " B " flojo not stereo                                the same identity B: not a 2nd contrast
     *  6 E alegre stereo 3/3                                   no contrast for alegre: left out
     *  7 F alegre stereo 2/3 (1 unsure)                        left out too
     *  8 A rico   3 unsure                                     not a stereotype: contrast of rico
     *  9 G rico   stereo 2/3, offensiveness 4 -> weight 5      contrast: A
     * 10 G pobre  stereo 3/3, offensiveness empty -> weight 0  contrast: H
     * 11 H pobre  not stereo
     * 12 S0 x     stereo, with 16 contrasts N01..N16 (rows 13..28): the cap keeps 14 */
    char buf[8192];
    int k = snprintf(buf, sizeof buf,
                     ML_HDR "A,flojo,0,3,0,2,a,lazy\nB,flojo,2,1,0,-1,b,lazy\nC,flojo,1,2,0,0.5,c,lazy\nD,flojo,1,1,1,-1,d,lazy\n"
                            " B ,flojo,3,0,0,-1,b,lazy\nE,alegre,0,3,0,-1,e,happy\nF,alegre,0,2,1,1,f,happy\nA,rico,0,0,3,1,a,rich\n"
                            "G,rico,1,2,0,4,g,rich\nG,pobre,0,3,0,,g,poor\nH,pobre,3,0,0,-1,h,poor\nS0,x,0,3,0,1,s,x\n");
    for (int i = 1; i <= 16; i++) k += snprintf(buf + k, sizeof buf - (size_t)k, "N%02d,x,3,0,0,-1,n,x\n", i);
    write_file(ML_ES, buf);

    quipu_assoc_template tpl[2] = {{"es", "t1", "{identity} son {attribute}", "La gente es {attribute}"},
                                   {"es-MX", "t2", "Sobre {identity}: {attribute}", "Sobre la gente: {attribute}"}};
    /* es-MX is more specific than es: only t2 serves the Mexican file */
    quipu_load_opts o = {.language = "es-MX", .assoc_templates = tpl, .n_assoc_templates = 2};
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    quipu_status st = quipu_load_benchmark("seegull_multilingual", g_dir, &o, &it, &n, &rep, &err);
    CHECK_MSG(st == QUIPU_OK, "%s", err.msg);
    /* items: A-flojo (k 2), C-flojo (k 2), G-rico (k 1), G-pobre (k 1), S0-x (k 14); one template */
    CHECK_MSG(n == 5, "%zu items", n);
    CHECK(rep.rows_read == 28 && rep.rows_excluded == 2 && rep.files == 1);
    size_t comps = 0;
    for (size_t i = 0; i < n; i++) comps += (size_t)(it[i].n_choices - 2);
    CHECK_MSG(comps == 2 + 2 + 1 + 1 + 14, "%zu comparisons", comps);
    const quipu_item *a = find(it, n, "seegull_multilingual:es-MX:t2:1");
    if (a) {
        CHECK(a->kind == QUIPU_ITEM_ASSOC && a->n_choices == 4 && !strcmp(a->template_id, "t2"));
        CHECK(!strcmp(a->language, "es-MX") && !strcmp(a->culture, "MX") && !strcmp(a->category, "") && !strcmp(a->group, "A"));
        CHECK(a->weight == 3.0);
        CHECK(!strcmp(a->contexts[0], "Sobre A: ") && !strcmp(a->contexts[1], "Sobre la gente: "));
        CHECK(!strcmp(a->contexts[2], "Sobre B: ") && !strcmp(a->contexts[3], "Sobre D: "));
        for (int c = 0; c < 4; c++) CHECK(!strcmp(a->choices[c], "flojo"));
        CHECK(a->source && strstr(a->source, "Spanish (es) in Mexico.csv:2"));
    }
    const quipu_item *c = find(it, n, "seegull_multilingual:es-MX:t2:3");
    if (c) CHECK(c->n_choices == 4 && c->weight == 1.5 && !strcmp(c->contexts[2], "Sobre B: ") && !strcmp(c->contexts[3], "Sobre D: "));
    const quipu_item *g = find(it, n, "seegull_multilingual:es-MX:t2:9");
    if (g) CHECK(g->n_choices == 3 && g->weight == 5.0 && !strcmp(g->contexts[2], "Sobre A: "));
    const quipu_item *p = find(it, n, "seegull_multilingual:es-MX:t2:10");
    if (p) CHECK(p->n_choices == 3 && p->weight == 0.0 && !strcmp(p->contexts[2], "Sobre H: "));
    const quipu_item *x = find(it, n, "seegull_multilingual:es-MX:t2:12");
    if (x && x->n_choices == 16) {
        /* the two dropped contrasts: the largest FNV-1a of "x" US "S0" US "Nk" */
        uint64_t key[17];
        int drop1 = 0, drop2 = 0;
        for (int i = 1; i <= 16; i++) {
            char s[32];
            int l = snprintf(s, sizeof s, "x%cS0%cN%02d", 0x1f, 0x1f, i);
            key[i] = fnv1a(s, (size_t)l);
            if (!drop1 || key[i] > key[drop1]) drop1 = i;
        }
        for (int i = 1; i <= 16; i++)
            if (i != drop1 && (!drop2 || key[i] > key[drop2])) drop2 = i;
        char want[14][16];
        int w = 0;
        for (int i = 1; i <= 16; i++)
            if (i != drop1 && i != drop2) snprintf(want[w++], sizeof want[0], "Sobre N%02d: ", i);
        int same = 1;
        for (int i = 0; i < 14; i++) same &= !strcmp(x->contexts[2 + i], want[i]);
        CHECK_MSG(same, "cap: dropped N%02d and N%02d expected", drop1, drop2);
    } else {
        CHECK_MSG(0, "item for S0-x has %d choices, expected 16", x ? x->n_choices : -1);
    }
    quipu_items_free(it, n);

    /* the limit counts items; the language filter skips the other 22 files (not written here) */
    o.limit = 2;
    st = quipu_load_benchmark("seegull_multilingual", g_dir, &o, &it, &n, &rep, &err);
    CHECK(st == QUIPU_OK && n == 2);
    quipu_items_free(it, n);

    /* with both templates for es (no es-MX entry), every tuple makes one item per template */
    tpl[1].language = "es";
    o.limit = 0;
    st = quipu_load_benchmark("seegull_multilingual", g_dir, &o, &it, &n, &rep, &err);
    CHECK_MSG(st == QUIPU_OK && n == 10, "%zu items: %s", n, err.msg);
    const quipu_item *t1 = st == QUIPU_OK ? find(it, n, "seegull_multilingual:es-MX:t1:1") : NULL;
    if (t1) CHECK(!strcmp(t1->contexts[0], "A son ") && !strcmp(t1->contexts[1], "La gente es ") && !strcmp(t1->template_id, "t1"));
    quipu_items_free(it, n);
}

static void test_english(void) {
    /* global file: 6 raters on row 1 (4 stereo: 12 >= 12, a stereotype), row 2 (3 of 6: not), row 3;
     * US states: Texan-loud a stereotype, Ohioan its contrast; Indian states: no tuple with a contrast */
    write_file("seegull/dataset/stereotypes_global_v2.csv",
               "identity,attribute,region_stereo,region_nonstereo,region_unsure,NA_stereo,NA_nonstereo,NA_unsure,Annotation1,Annotation2,"
               "Annotation3,mean offensiveness_score\n"
               "P,smart,4,2,0,0,3,0,3,3,3,3\nQ,smart,3,3,0,0,3,0,-1,-1,-1,-1\nR,smart,1,2,0,0,3,0,-1,-1,-1,-1\n");
    write_file("seegull/dataset/stereotypes_us_states.csv",
               "identity,attribute,region_stereo,region_nonstereo,region_unsure,Annotation1,Annotation2,Annotation3,offensiveness_score\n"
               "Texan,loud,2,1,0,1,1,1,1\nOhioan,loud,0,3,0,-1,-1,-1,-1\n");
    write_file("seegull/dataset/stereotypes_indian_states.csv",
               "identity,attribute,region_stereo,region_nonstereo,region_unsure,Annotation1,Annotation2,Annotation3,offensiveness_score\n"
               "Keralite,smart,3,0,0,-1,-1,-1,-1\n");
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    quipu_status st = quipu_load_benchmark("seegull", g_dir, NULL, &it, &n, &rep, &err);
    CHECK_MSG(st == QUIPU_OK, "%s", err.msg);
    /* 2 tuples x the 2 default English templates (label, people_are) */
    CHECK_MSG(n == 4, "%zu items", n);
    CHECK(rep.files == 3 && rep.rows_excluded == 1);
    const quipu_item *p = find(it, n, "seegull:en:label:1");
    if (p) {
        CHECK(p->n_choices == 4 && p->weight == 4.0 && !strcmp(p->culture, "global") && !strcmp(p->language, "en"));
        CHECK(!strcmp(p->contexts[0], "P: ") && !strcmp(p->contexts[1], "People: ") && !strcmp(p->contexts[2], "Q: ") &&
              !strcmp(p->contexts[3], "R: "));
    }
    const quipu_item *t = find(it, n, "seegull:en-US:people_are:1");
    if (t)
        CHECK(t->n_choices == 3 && t->weight == 2.0 && !strcmp(t->culture, "US") && !strcmp(t->contexts[0], "Texan people are ") &&
              !strcmp(t->contexts[1], "People are ") && !strcmp(t->contexts[2], "Ohioan people are "));
    quipu_items_free(it, n);
}

static void test_bad_rows(void) {
    write_file(ML_ES, ML_HDR "A,flojo,0,x,0,2,a,lazy\nB,flojo,3,0,0,7,b,lazy\n,flojo,3,0,0,1,c,lazy\nC,flojo,3,0,0,-1,c,lazy\n");
    quipu_load_opts o = {.language = "es-MX"};
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    CHECK(quipu_load_benchmark("seegull_multilingual", g_dir, &o, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "Spanish (es) in Mexico.csv:2: stereotype count 'x' is not a non-negative integer"), "%s", err.msg);
    o.on_bad_row = QUIPU_BAD_ROW_SKIP;
    quipu_error_clear(&err);
    /* three bad rows skipped; the one good row is not a stereotype: no items at all */
    CHECK(quipu_load_benchmark("seegull_multilingual", g_dir, &o, &it, &n, &rep, &err) != QUIPU_OK);
    CHECK_MSG(rep.rows_skipped == 3 && strstr(rep.reasons[1], ":3: offensiveness '7' is not a number from -1 to 4") &&
                  strstr(rep.reasons[2], ":4: empty identity"),
              "%zu: %s | %s", rep.rows_skipped, rep.reasons[1], rep.reasons[2]);
    CHECK_MSG(strstr(err.msg, "no items") != NULL, "%s", err.msg);

    /* a datasets folder without SeeGULL: one line naming the file and where the files come from */
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("seegull", "/nonexistent/datasets", NULL, &it, &n, &rep, &err) == QUIPU_ERR_IO);
    CHECK_MSG(strstr(err.msg, "/nonexistent/datasets/seegull/dataset/stereotypes_global_v2.csv") &&
                  strstr(err.msg, "scripts/fetch-datasets.sh") && !strchr(err.msg, '\n'),
              "%s", err.msg);
}

static void test_templates(void) {
    CHECK(quipu_assoc_template_check("{identity}: {attribute}", "People: {attribute}") == NULL);
    CHECK(quipu_assoc_template_check("They: {attribute}", "People: {attribute}") != NULL);            /* no {identity} */
    CHECK(quipu_assoc_template_check("{identity} {identity}: {attribute}", "P: {attribute}") != NULL); /* twice */
    CHECK(quipu_assoc_template_check("{identity} are {attribute}.", "People are {attribute}") != NULL); /* not at the end */
    CHECK(quipu_assoc_template_check("{identity} are {attribute}", "{identity} are {attribute}") != NULL);
    CHECK(quipu_assoc_template_check("{identity}: {attribute}", "People:{attribute}") != NULL);      /* other spacing */
    CHECK(quipu_assoc_template_check("{attribute}", "{attribute}") != NULL);
    /* every default passes its own check, and every SeeGULL language has at least one */
    for (const quipu_assoc_template *t = quipu_assoc_default_templates(); t->id; t++)
        CHECK_MSG(quipu_assoc_template_check(t->text, t->neutral) == NULL, "default %s/%s", t->language, t->id);
    static const char *const langs[] = {"en", "en-US", "en-IN", "ar-AE", "bn-BD", "bn-IN", "nl-NL", "fr-FR", "de-DE", "hi-IN",
                                        "id-ID", "it-IT", "ja-JP", "ko-KR", "ms-MY", "mr-IN", "pt-BR", "pt-PT", "es-MX",
                                        "es-ES", "sw-KE", "ta-IN", "te-IN", "th-TH", "tr-TR", "vi-VN", NULL};
    const quipu_assoc_template *out[QUIPU_ASSOC_MAX_TEMPLATES];
    for (int i = 0; langs[i]; i++) CHECK_MSG(quipu_assoc_templates_for(langs[i], NULL, 0, out, 16) >= 1, "%s", langs[i]);
    CHECK(quipu_assoc_templates_for("zz-ZZ", NULL, 0, out, 16) == 0);
    CHECK(quipu_assoc_templates_for("es-MX", NULL, 0, out, 16) == 2 && !strcmp(out[0]->id, "label"));
    /* given templates win for their language (most specific key), the defaults serve the others */
    quipu_assoc_template g[3] = {{"es", "a", "{identity}: {attribute}", "X: {attribute}"},
                                 {"es-ES", "b", "{identity}: {attribute}", "Y: {attribute}"},
                                 {"es-ES", "c", "{identity}: {attribute}", "Z: {attribute}"}};
    CHECK(quipu_assoc_templates_for("es-MX", g, 3, out, 16) == 1 && out[0] == &g[0]);
    CHECK(quipu_assoc_templates_for("es-ES", g, 3, out, 16) == 2 && out[0] == &g[1] && out[1] == &g[2]);
    CHECK(quipu_assoc_templates_for("es", g, 3, out, 16) == 1 && out[0] == &g[0]);
    CHECK(quipu_assoc_templates_for("fr-FR", g, 3, out, 16) == 2 && !strcmp(out[0]->language, "fr"));
    CHECK(quipu_assoc_templates_for("est", g, 3, out, 16) == 0); /* "es" is not a prefix of "est" by subtags */
    char *pr = quipu_assoc_prompt("Wenn ich an {identity} denke, denke ich an {attribute}", "Bayern");
    CHECK(pr && !strcmp(pr, "Wenn ich an Bayern denke, denke ich an "));
    free(pr);
    pr = quipu_assoc_prompt("Menschen: {attribute}", NULL);
    CHECK(pr && !strcmp(pr, "Menschen: "));
    free(pr);
}

/* `association_templates` in a run config (src/config_assoc.c): read into the entry, in the
 * canonical text and the hash when given (not otherwise), every problem one line at its node. */
static quipu_status load_cfg(const char *yaml, quipu_config **c, quipu_error_list *e) {
    const char *path = test_write_tmp("seegull-config.yaml", yaml, strlen(yaml));
    quipu_config_options o = {.known_benchmarks = quipu_benchmark_names(), .skip_path_checks = 1};
    quipu_error_list_init(e);
    return quipu_config_load_opts(c, path, NULL, 0, &o, e);
}

static void test_config(void) {
    quipu_config *c = NULL, *d = NULL;
    quipu_error_list e;
    CHECK(load_cfg("models: [/m.gguf]\nbenchmarks:\n  - name: seegull_multilingual\n    association_templates:\n"
                   "      es: [{id: a, text: '{identity}: {attribute}', neutral: 'Gente: {attribute}'},\n"
                   "           {id: b, text: 'Los {identity} son {attribute}', neutral: 'Todos son {attribute}'}]\n"
                   "      fr-FR: [{id: a, text: '{identity} : {attribute}', neutral: 'Gens : {attribute}'}]\n",
                   &c, &e) == QUIPU_OK);
    quipu_error_list_free(&e);
    CHECK(load_cfg("models: [/m.gguf]\nbenchmarks: [seegull_multilingual]\n", &d, &e) == QUIPU_OK);
    quipu_error_list_free(&e);
    if (c && d) {
        const quipu_config_benchmark *b = &c->benchmarks[0];
        CHECK(b->n_assoc_templates == 3 && !strcmp(b->assoc_templates[1].id, "b") && !strcmp(b->assoc_templates[2].language, "fr-FR"));
        CHECK(d->benchmarks[0].n_assoc_templates == 0);
        char *tc = quipu_config_canonical(c, 1), *td = quipu_config_canonical(d, 1);
        CHECK(tc && strstr(tc, "\"association_templates\"") && strstr(tc, "Los {identity} son {attribute}"));
        CHECK(td && !strstr(td, "association_templates"));
        char hc[65], hd[65];
        CHECK(quipu_config_hash(c, hc, NULL) == QUIPU_OK && quipu_config_hash(d, hd, NULL) == QUIPU_OK && strcmp(hc, hd));
        free(tc);
        free(td);
    }
    quipu_config_free(c);
    quipu_config_free(d);
    c = NULL;
    /* every problem, each at its node */
    CHECK(load_cfg("models: [/m.gguf]\nbenchmarks:\n  - name: seegull\n    prompt: 'x {context}'\n    association_templates:\n"
                   "      english: [{id: a, text: '{identity}: {attribute}', neutral: 'P: {attribute}'}]\n"
                   "      en: [{id: a, text: '{identity}: {attribute}', neutral: 'P: {attribute}', extra: 1},\n"
                   "           {id: a, text: '{identity}: {attribute}', neutral: 'Q: {attribute}'},\n"
                   "           {id: 'b c', text: '{identity}: {attribute}', neutral: 'P: {attribute}'},\n"
                   "           {id: d, text: '{identity} {attribute}.'},\n"
                   "           {id: e, text: '{identity}: {attribute}', neutral: 'P:{attribute}'}]\n",
                   &c, &e) == QUIPU_ERR_INVALID);
    static const char *const want[] = {
        ":4:13: benchmarks.0.prompt: 'seegull' builds its prompts from association_templates; it takes no prompt",
        ":6:7: benchmarks.0.association_templates.english: 'english' is not a BCP-47 language tag",
        ":7:80: unknown key 'extra' in benchmarks.0.association_templates.en.0 (expected one of: id, text, neutral)",
        ":8:17: benchmarks.0.association_templates.en.1.id: template 'a' is given twice for language 'en'",
        ":9:17: benchmarks.0.association_templates.en.2.id: 'b c' may only contain",
        ":10:12: benchmarks.0.association_templates.en.3: missing required key 'neutral'",
        ":11:26: benchmarks.0.association_templates.en.4.text: text and neutral must have the same spacing before {attribute}",
    };
    int all = e.n == (int)(sizeof want / sizeof *want);
    for (int i = 0; all && i < e.n; i++) all = strstr(e.msgs[i], want[i]) != NULL;
    CHECK_MSG(all, "%d messages; first: %s", e.n, e.n ? e.msgs[0] : "(none)");
    if (!all) quipu_error_list_print(&e, stderr);
    quipu_error_list_free(&e);
    quipu_config_free(c);
}

/* Counts on the staged files, equal to this Python recount (per template; "rule" as in seegull.c):
 *   st = lambda s, n, u: s + n + u > 0 and 3 * s >= 2 * (s + n + u)
 *   for each stereotype row r: cs = the distinct identities o != r.identity of rows with r's
 *   attribute that are not stereotypes; if cs: items += 1; comparisons += min(len(cs), 14)
 *   else: excluded += 1
 * (multilingual: columns stereotype, non_stereotype, unsure; English: region_stereo,
 * region_nonstereo, region_unsure). */
static const struct {
    const char *lang;
    size_t items, comparisons;
} k_recount[] = {
    {"ar-AE", 106, 162}, {"bn-BD", 334, 696}, {"bn-IN", 140, 319}, {"nl-NL", 55, 110},   {"fr-FR", 196, 703},  {"de-DE", 269, 1188},
    {"hi-IN", 113, 251}, {"id-ID", 172, 390}, {"it-IT", 140, 353}, {"ja-JP", 117, 217},  {"ko-KR", 62, 91},    {"ms-MY", 212, 881},
    {"mr-IN", 240, 784}, {"pt-BR", 421, 1081}, {"pt-PT", 245, 784}, {"es-MX", 322, 1456}, {"es-ES", 245, 669}, {"sw-KE", 198, 487},
    {"ta-IN", 162, 856}, {"te-IN", 12, 19},   {"th-TH", 50, 86},   {"tr-TR", 244, 1337}, {"vi-VN", 72, 86},
    /* English: global 2,150 / 17,645 (14,210 comparisons beyond the cap of 14), US states 39 / 243 */
    {"en", 2150, 17645}, {"en-US", 39, 243}, {"en-IN", 0, 0},
};

static void test_staged(const char *ds) {
    double t0 = quipu_time_now();
    for (int ml = 0; ml < 2; ml++) {
        quipu_item *it = NULL;
        size_t n = 0;
        quipu_load_report rep;
        quipu_error err = {0};
        /* the default templates; counted per template (the first of each language) below */
        quipu_status st = quipu_load_benchmark(ml ? "seegull_multilingual" : "seegull", ds, NULL, &it, &n, &rep, &err);
        CHECK_MSG(st == QUIPU_OK, "%s", err.msg);
        for (size_t k = 0; k < sizeof k_recount / sizeof *k_recount; k++) {
            const char *lang = k_recount[k].lang;
            if ((ml != 0) != (strncmp(lang, "en", 2) != 0)) continue;
            const quipu_assoc_template *tp[QUIPU_ASSOC_MAX_TEMPLATES];
            size_t nt = quipu_assoc_templates_for(lang, NULL, 0, tp, QUIPU_ASSOC_MAX_TEMPLATES);
            size_t items = 0, comps = 0;
            for (size_t i = 0; i < n; i++)
                if (!strcmp(it[i].language, lang) && !strcmp(it[i].template_id, tp[0]->id)) {
                    items++;
                    comps += (size_t)(it[i].n_choices - 2);
                }
            size_t all = 0;
            for (size_t i = 0; i < n; i++) all += !strcmp(it[i].language, lang);
            CHECK_MSG(items == k_recount[k].items && comps == k_recount[k].comparisons && all == nt * items,
                      "%s: %zu items, %zu comparisons per template (recount %zu, %zu); %zu items over %zu templates", lang, items,
                      comps, k_recount[k].items, k_recount[k].comparisons, all, nt);
        }
        /* tuples without a contrast: multilingual 10,838; English 837 + 32 + 9 */
        CHECK_MSG(rep.rows_excluded == (ml ? 10838u : 878u), "rows_excluded %zu", rep.rows_excluded);
        printf("%-22s %6zu items, %zu files, %.2f s\n", ml ? "seegull_multilingual" : "seegull", n, rep.files, quipu_time_now() - t0);
        quipu_items_free(it, n);
    }
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/seegull-%d", test_env("QUIPU_TEST_TMP", "/tmp"), (int)getpid());
    test_templates();
    test_config();
    test_slice();
    test_english();
    test_bad_rows();
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    char ds[4096];
    snprintf(ds, sizeof ds, "%s/datasets", shared);
    if (test_file_exists(test_path(ds, "seegull-multilingual/dataset/stereotypes/Spanish (es) in Mexico.csv")))
        test_staged(ds);
    else
        printf("note: %s has no SeeGULL files: the counts on the staged files are not checked\n", ds);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", g_dir);
    return test_finish("test_data_seegull");
}
