/* test_data_blend.c — the BLEnD loader (src/data/blend.c, docs/benchmarks.md "BLEnD"): the
 * multiple-choice rule worked out by hand on a small folder written here in the staged layout
 * (16 countries x 8 questions: the reliability filter, the gold answer and its ties, the word rule
 * and its 5-byte prefixes, times and numbers compared by value, duplicates, too few distractors,
 * the draw order recomputed here from its definition), the items' tags, prompts and ids, the
 * filters, bad rows and a missing datasets folder; and, where ../shared/datasets is staged, the
 * counts of every country and topic and spot items against a Python recount (below). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/loaders.h"
#include "testlib.h"

static char g_dir[4096];

static const char *const k_countries[16] = {"Algeria", "Assam", "Azerbaijan", "China", "Ethiopia", "Greece",
                                            "Indonesia", "Iran", "Mexico", "North_Korea", "Northern_Nigeria",
                                            "South_Korea", "Spain", "UK", "US", "West_Java"};

static void write_file(const char *rel, const char *text) { test_write_under(g_dir, rel, text); }

static const quipu_item *find(const quipu_item *it, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(it[i].id, id)) return &it[i];
    fprintf(stderr, "no item %s\n", id);
    return NULL;
}

/* the choices joined with '|' */
static const char *joined(const quipu_item *x) {
    static char buf[1024];
    buf[0] = '\0';
    for (int i = 0; x && i < x->n_choices; i++) {
        if (i) strncat(buf, "|", sizeof buf - strlen(buf) - 1);
        strncat(buf, x->choices[i], sizeof buf - strlen(buf) - 1);
    }
    return buf;
}

/* ---- the slice: 8 questions; every country's answers "not applicable" unless given below ---- */

static const char *const k_qids[8] = {"Al-en-01", "Al-en-02", "Al-en-03", "Al-en-04", "Ne-ar-18", "Gu-ch-16", "Al-en-07", "An-ar-34"};
static const char *const k_topics[8] = {"Food", "Food", "Sport", "Family", "Work life", "Education",
                                        "Holidays/Celebration/Leisure", "Sport"};
static const char *const k_en_q[8] = {
    "What is a common snack in %s?",
    "What is a common breakfast in %s?",
    "What sport do children play in %s?",
    "Who cooks at family gatherings in %s?",
    "At what time do most people finish work in %s? (Provide in HH:MM format (e.g., 18:00, 09:00))",
    "How many people are there in a family on average in %s? (Provide Arabic numerals (e.g., 3) only.)",
    "What do people eat on holidays in %s?",
    "What is the most popular team sport at school in %s?"};

#define OK_IDKS "{\"idk\": 0, \"no-answer\": 0, \"not-applicable\": 0}"
#define NA_IDKS "{\"idk\": 0, \"no-answer\": 0, \"not-applicable\": 1}"
#define A(en, n) "{\"answers\": [\"x\"], \"en_answers\": [" en "], \"count\": " #n "}"

typedef struct cell {
    const char *country;
    int q;
    const char *idks; /* NULL: NA_IDKS */
    const char *anns;
} cell;

/* Worked by hand (the rule in src/data/blend.c):
 *  Mexico 1 (Food): gold "tacos" (3). Its answers' forms: tacos, taco, fried chicken, fruit.
 *    Spain churros; US "chicken nuggets" shares "chicken" -> its next, "apple pie"; UK crisps;
 *    Indonesia crisps (the same: whichever is drawn second gives nothing); China "Fruits" holds
 *    "fruit" (lower-cased); South Korea "fried-dough" begins with "fried" as "fried chicken"'s
 *    word does (5-byte prefix); Greece "candy" has 1 vote. Distractors: apple pie, churros,
 *    crisps in any order -> [apple pie, churros, crisps, tacos], label 3.
 *  Mexico 2: a not-applicable vote; 3: idk 2 + "not sure" 1 = 3 > 2; 4: top answer 1 vote: none.
 *  Mexico 5 (HH:MM): gold 18:00. Spain 18:00 (same time) -> its 19:00; US 17:00; UK "5 pm" is no
 *    HH:MM -> its 17:30; Indonesia 16:00: four candidates, the first three of the draw order
 *    (recomputed below).
 *  Mexico 6 (numbers): gold 3; Spain "03" equals 3; US 30 (not 3 nor 13: compared by value, not
 *    as text); UK 4; Indonesia 5.5 -> [3, 30, 4, 5.5], label 0.
 *  Mexico 7: pozole and tamales tie at 3: gold pozole (listed first); Spain tamales is Mexico's
 *    -> its paella; US turkey; UK pudding -> [paella, pozole, pudding, turkey], label 1.
 *  US 7 (its only reliable question): gold turkey; Mexico pozole, Spain tamales, UK pudding ->
 *    [pozole, pudding, tamales, turkey], label 3; one item, in English, with the US prompt.
 *  Mexico 8: Spain basketball, US baseball: 2 distractors -> none.
 * Items: Mexico 4 x (es-MX, en) + US 1 = 9; left out: 16 x 8 - 5 = 123 question x country. */
static const cell k_cells[] = {
    {"Mexico", 0, OK_IDKS, "[" A("\"tacos\", \"taco\"", 3) ", " A("\"fried chicken\"", 2) ", " A("\"fruit\"", 1) "]"},
    {"Mexico", 1, NA_IDKS, "[" A("\"rice\"", 4) "]"},
    {"Mexico", 2, "{\"idk\": 2, \"no-answer\": 0, \"not-applicable\": 0, \"not sure\": 1}", "[" A("\"soccer\"", 2) "]"},
    {"Mexico", 3, OK_IDKS, "[" A("\"aunt\"", 1) ", " A("\"uncle\"", 1) "]"},
    {"Mexico", 4, OK_IDKS, "[" A("\"18:00\"", 3) ", " A("\"6 pm\"", 2) "]"},
    {"Mexico", 5, OK_IDKS, "[" A("\"3\"", 4) ", " A("\"13\"", 2) "]"},
    {"Mexico", 6, OK_IDKS, "[" A("\"pozole\"", 3) ", " A("\"tamales\"", 3) ", " A("\"mole\"", 1) "]"},
    {"Mexico", 7, OK_IDKS, "[" A("\"futbol\"", 3) "]"},
    {"Spain", 0, NULL, "[" A("\"churros\"", 3) "]"},
    {"Spain", 4, NULL, "[" A("\"18:00\"", 2) ", " A("\"19:00\"", 2) "]"},
    {"Spain", 5, NULL, "[" A("\"03\"", 2) "]"},
    {"Spain", 6, NULL, "[" A("\"tamales\"", 2) ", " A("\"paella\"", 2) "]"},
    {"Spain", 7, NULL, "[" A("\"basketball\"", 2) "]"},
    {"US", 0, NULL, "[" A("\"chicken nuggets\"", 4) ", " A("\"apple pie\"", 2) "]"},
    {"US", 4, NULL, "[" A("\"17:00\"", 3) "]"},
    {"US", 5, NULL, "[" A("\"30\"", 2) "]"},
    {"US", 6, OK_IDKS, "[" A("\"turkey\"", 2) "]"},
    {"US", 7, NULL, "[" A("\"baseball\"", 2) "]"},
    {"UK", 0, NULL, "[" A("\"crisps\"", 2) "]"},
    {"UK", 4, NULL, "[" A("\"5 pm\"", 2) ", " A("\"17:30\"", 2) "]"},
    {"UK", 5, NULL, "[" A("\"4\"", 2) "]"},
    {"UK", 6, NULL, "[" A("\"pudding\"", 2) "]"},
    {"Indonesia", 0, NULL, "[" A("\"crisps\"", 2) "]"},
    {"Indonesia", 4, NULL, "[" A("\"16:00\"", 2) "]"},
    {"Indonesia", 5, NULL, "[" A("\"5.5\"", 2) "]"},
    {"China", 0, NULL, "[" A("\"Fruits\"", 2) "]"},
    {"South_Korea", 0, NULL, "[" A("\"fried-dough\"", 2) "]"},
    {"Greece", 0, NULL, "[" A("\"candy\"", 1) "]"},
};

#define MX_PROMPT_ES "Lea la siguiente pregunta y proporcione una única respuesta sin explicaciones.\n\nPregunta: {q}\nRespuesta:"
#define PROMPT_EN "Read the following question and provide a single answer without any explanations.\n\nQuestion: {q}\nAnswer:"

static void write_slice(void) {
    static char buf[65536];
    for (int c = 0; c < 16; c++) {
        const char *name = k_countries[c];
        char place[64], rel[256];
        snprintf(place, sizeof place, "%s", name);
        for (char *p = place; *p; p++)
            if (*p == '_') *p = ' ';
        /* annotations: one question per line, so question i's key is on line i + 2 */
        int k = snprintf(buf, sizeof buf, "{\n");
        for (int q = 0; q < 8; q++) {
            const cell *x = NULL;
            for (size_t i = 0; i < sizeof k_cells / sizeof *k_cells; i++)
                if (!strcmp(k_cells[i].country, name) && k_cells[i].q == q) x = &k_cells[i];
            char enq[256];
            snprintf(enq, sizeof enq, k_en_q[q], place);
            k += snprintf(buf + k, sizeof buf - (size_t)k, "    \"%s\": {\"question\": \"local %d\", \"en_question\": \"%s\", \"annotations\": %s, \"idks\": %s}%s\n",
                          k_qids[q], q + 1, enq, x ? x->anns : "[]", x && x->idks ? x->idks : NA_IDKS, q < 7 ? "," : "");
        }
        snprintf(buf + k, sizeof buf - (size_t)k, "}\n");
        snprintf(rel, sizeof rel, "blend/data/annotations/%s_data.json", name);
        write_file(rel, buf);
        /* questions */
        k = snprintf(buf, sizeof buf, ",ID,Topic,Source,Question,Translation\n");
        for (int q = 0; q < 8; q++) {
            char enq[256], loc[256];
            snprintf(enq, sizeof enq, k_en_q[q], place);
            if (!strcmp(name, "Mexico") && q == 0) snprintf(loc, sizeof loc, "¿Cuál es un bocadillo común en México?");
            else if (!strcmp(name, "US")) snprintf(loc, sizeof loc, k_en_q[q], "the US");
            else snprintf(loc, sizeof loc, "local %d", q + 1);
            k += snprintf(buf + k, sizeof buf - (size_t)k, "%d,%s,%s,English (US),\"%s\",\"%s\"\n", q, k_qids[q], k_topics[q], loc, enq);
        }
        snprintf(rel, sizeof rel, "blend/data/questions/%s_questions.csv", name);
        write_file(rel, buf);
        /* prompts: Mexico's as staged (an inst-1 row first, a second inst-4 row last that loses);
         * the US's own prompt differs from the English column, to see which one its item takes */
        if (!strcmp(name, "Mexico"))
            snprintf(buf, sizeof buf, "id,English,Translation,Edited Y/N\ninst-1,\"{q} Show.\",\"{q} Muestre.\",N\n"
                                      "inst-4,\"" PROMPT_EN "\",\"" MX_PROMPT_ES "\",N\ninst-4,\"no {q}\",\"no {q}\",N\n");
        else if (!strcmp(name, "US"))
            snprintf(buf, sizeof buf, "id,English,Translation,Edited Y/N\ninst-4,\"" PROMPT_EN "\",\"US: {q}\",N\n");
        else
            snprintf(buf, sizeof buf, "id,English,Translation,Edited Y/N\ninst-4,\"" PROMPT_EN "\",\"%s: {q}\",N\n", name);
        snprintf(rel, sizeof rel, "blend/data/prompts/%s_prompts.csv", name);
        write_file(rel, buf);
    }
}

/* The draw order's key, written out here from its definition rather than taken from quipu:
 * splitmix64(FNV-1a 64("blend:<asked>:<question>" 0x1F "<other>")). */
static uint64_t draw_key(const char *asked, const char *qid, const char *other) {
    char s[256];
    int l = snprintf(s, sizeof s, "blend:%s:%s%c%s", asked, qid, 0x1f, other);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < l; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    uint64_t z = h + UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void test_slice(void) {
    write_slice();
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    quipu_status st = quipu_load_benchmark("blend", g_dir, NULL, &it, &n, &rep, &err);
    CHECK_MSG(st == QUIPU_OK, "%s", err.msg);
    CHECK_MSG(n == 9, "%zu items", n);
    /* 16 x 8 annotation entries + 16 x 8 question rows + 16 prompt rows (Mexico 3) */
    CHECK_MSG(rep.rows_excluded == 123 && rep.rows_skipped == 0 && rep.files == 48 && rep.rows_read == 128 + 128 + 18,
              "excluded %zu, skipped %zu, files %zu, rows %zu", rep.rows_excluded, rep.rows_skipped, rep.files, rep.rows_read);
    CHECK(strstr(rep.file_paths[0], "blend/data/annotations/Algeria_data.json") && strlen(rep.file_sha256[47]) == 64);
    if (st) return;

    /* item order: country, question rows, the local item before the English one */
    static const char *const order[] = {"blend:Mexico:Al-en-01:es-MX", "blend:Mexico:Al-en-01:en", "blend:Mexico:Ne-ar-18:es-MX",
                                        "blend:Mexico:Ne-ar-18:en",    "blend:Mexico:Gu-ch-16:es-MX", "blend:Mexico:Gu-ch-16:en",
                                        "blend:Mexico:Al-en-07:es-MX", "blend:Mexico:Al-en-07:en", "blend:US:Al-en-07:en"};
    for (size_t i = 0; i < n && i < 9; i++) CHECK_MSG(!strcmp(it[i].id, order[i]), "item %zu is %s, expected %s", i, it[i].id, order[i]);

    const quipu_item *x = find(it, n, "blend:Mexico:Al-en-01:es-MX");
    if (x) {
        CHECK(x->kind == QUIPU_ITEM_MC && x->n_choices == 4 && x->label == 3);
        CHECK_MSG(!strcmp(joined(x), "apple pie|churros|crisps|tacos"), "%s", joined(x));
        CHECK(!strcmp(x->language, "es-MX") && !strcmp(x->culture, "MX") && !strcmp(x->category, "Food") && !strcmp(x->benchmark, "blend"));
        CHECK_MSG(!strcmp(x->context, "Lea la siguiente pregunta y proporcione una única respuesta sin explicaciones.\n\n"
                                      "Pregunta: ¿Cuál es un bocadillo común en México?\nRespuesta:"),
                  "%s", x->context);
        CHECK(x->question && !strcmp(x->question, "") && x->unknown_choice == -1 && x->biased_choice == -1 && !x->template_id);
        CHECK(x->condition == QUIPU_COND_NONE && x->source && strstr(x->source, "blend/data/questions/Mexico_questions.csv:2"));
    }
    x = find(it, n, "blend:Mexico:Al-en-01:en");
    if (x) {
        CHECK(!strcmp(joined(x), "apple pie|churros|crisps|tacos") && x->label == 3 && !strcmp(x->language, "en") && !strcmp(x->culture, "MX"));
        CHECK_MSG(!strcmp(x->context, "Read the following question and provide a single answer without any explanations.\n\n"
                                      "Question: What is a common snack in Mexico?\nAnswer:"),
                  "%s", x->context);
    }
    /* the HH:MM question: the first three of the four candidates in the draw order */
    x = find(it, n, "blend:Mexico:Ne-ar-18:es-MX");
    if (x) {
        struct {
            const char *country, *answer;
            uint64_t key;
        } cand[4] = {{"Spain", "19:00", 0}, {"US", "17:00", 0}, {"UK", "17:30", 0}, {"Indonesia", "16:00", 0}};
        for (int i = 0; i < 4; i++) cand[i].key = draw_key("Mexico", "Ne-ar-18", cand[i].country);
        int last = 0; /* the one left out: the largest key */
        for (int i = 1; i < 4; i++)
            if (cand[i].key > cand[last].key) last = i;
        const char *want[4];
        int w = 0;
        want[w++] = "18:00";
        for (int i = 0; i < 4; i++)
            if (i != last) want[w++] = cand[i].answer;
        qsort(want, 4, sizeof *want, cmp_str);
        char wj[128];
        snprintf(wj, sizeof wj, "%s|%s|%s|%s", want[0], want[1], want[2], want[3]);
        int gold = 0;
        for (int i = 0; i < 4; i++)
            if (!strcmp(want[i], "18:00")) gold = i;
        CHECK_MSG(!strcmp(joined(x), wj) && x->label == gold, "%s (label %d), expected %s (label %d; %s left out)", joined(x), x->label,
                  wj, gold, cand[last].country);
        CHECK(!strcmp(x->category, "Work life"));
    }
    x = find(it, n, "blend:Mexico:Gu-ch-16:en");
    if (x) CHECK_MSG(!strcmp(joined(x), "3|30|4|5.5") && x->label == 0, "%s %d", joined(x), x->label);
    x = find(it, n, "blend:Mexico:Al-en-07:es-MX");
    if (x) CHECK_MSG(!strcmp(joined(x), "paella|pozole|pudding|turkey") && x->label == 1, "%s %d", joined(x), x->label);
    x = find(it, n, "blend:US:Al-en-07:en");
    if (x) {
        CHECK_MSG(!strcmp(joined(x), "pozole|pudding|tamales|turkey") && x->label == 3, "%s %d", joined(x), x->label);
        CHECK(!strcmp(x->language, "en") && !strcmp(x->culture, "US") && !strcmp(x->category, "Holidays/Celebration/Leisure"));
        CHECK_MSG(!strcmp(x->context, "US: What do people eat on holidays in the US?"), "%s", x->context);
    }

    /* the filters keep the same choices: the draw depends on the item alone */
    quipu_item *f = NULL;
    size_t nf = 0;
    quipu_load_opts o = {.language = "en"};
    st = quipu_load_benchmark("blend", g_dir, &o, &f, &nf, &rep, &err);
    CHECK(st == QUIPU_OK && nf == 5 && rep.rows_filtered == 4);
    for (size_t i = 0; i < nf; i++) {
        const quipu_item *y = find(it, n, f[i].id);
        char a[1024];
        snprintf(a, sizeof a, "%s", joined(y));
        CHECK_MSG(y && !strcmp(a, joined(&f[i])) && y->label == f[i].label, "%s differs when filtered", f[i].id);
    }
    quipu_items_free(f, nf);
    o = (quipu_load_opts){.language = "es", .subset = "work life,food"};
    st = quipu_load_benchmark("blend", g_dir, &o, &f, &nf, &rep, &err);
    CHECK_MSG(st == QUIPU_OK && nf == 2 && !strcmp(f[0].id, "blend:Mexico:Al-en-01:es-MX") && !strcmp(f[1].id, "blend:Mexico:Ne-ar-18:es-MX"),
              "%zu items", nf);
    quipu_items_free(f, nf);
    o = (quipu_load_opts){.limit = 3};
    st = quipu_load_benchmark("blend", g_dir, &o, &f, &nf, &rep, &err);
    CHECK(st == QUIPU_OK && nf == 3 && !strcmp(f[2].id, "blend:Mexico:Ne-ar-18:es-MX"));
    quipu_items_free(f, nf);
    quipu_items_free(it, n);
}

static void test_bad_rows(void) {
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    char path[8192];

    /* a bad annotation entry: an error at its key's line; skipped, the question has no items */
    write_slice();
    write_file("blend/data/annotations/Mexico_data.json",
               "{\n    \"Al-en-01\": {\"annotations\": [" A("\"tacos\"", 3) ", {\"en_answers\": [\"x\"], \"count\": \"2\"}], \"idks\": " OK_IDKS "},\n"
               "    \"Al-en-02\": {\"annotations\": [], \"idks\": {\"idk\": -1}},\n"
               "    \"Al-en-03\": [],\n"
               "    \"Al-en-04\": {\"annotations\": [], \"idks\": " NA_IDKS "},\n"
               "    \"Ne-ar-18\": {\"annotations\": [" A("\"18:00\"", 3) "], \"idks\": " OK_IDKS "},\n"
               "    \"Gu-ch-16\": {\"annotations\": [{\"en_answers\": \"3\", \"count\": 4}], \"idks\": " OK_IDKS "},\n"
               "    \"Al-en-07\": {\"annotations\": [" A("\"pozole\"", 3) "], \"idks\": " OK_IDKS "},\n"
               "    \"An-ar-34\": {\"idks\": " OK_IDKS "}\n}\n");
    snprintf(path, sizeof path, "%s/blend/data/annotations/Mexico_data.json", g_dir);
    CHECK(quipu_load_benchmark("blend", g_dir, NULL, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    char want[9000];
    snprintf(want, sizeof want, "%s:2: question 'Al-en-01': annotation 2: 'count' is not a positive integer", path);
    CHECK_MSG(!strcmp(err.msg, want), "%s", err.msg);
    quipu_load_opts o = {.on_bad_row = QUIPU_BAD_ROW_SKIP};
    quipu_error_clear(&err);
    CHECK_MSG(quipu_load_benchmark("blend", g_dir, &o, &it, &n, &rep, &err) == QUIPU_OK, "%s", err.msg);
    CHECK_MSG(rep.rows_skipped == 5 && rep.n_reasons == 5, "%zu skipped", rep.rows_skipped);
    CHECK_MSG(strstr(rep.reasons[1], "Mexico_data.json:3: question 'Al-en-02': 'idks' holds a count that is not a non-negative integer") &&
                  strstr(rep.reasons[2], ":4: question 'Al-en-03': not a JSON object") &&
                  strstr(rep.reasons[3], ":7: question 'Gu-ch-16': annotation 1: 'en_answers' is not a list") &&
                  strstr(rep.reasons[4], ":9: question 'An-ar-34': no 'annotations' list"),
              "%s | %s | %s | %s", rep.reasons[1], rep.reasons[2], rep.reasons[3], rep.reasons[4]);
    /* Mexico keeps Ne-ar-18 and Al-en-07 (their answers changed: only 18:00 and pozole left), the
     * US keeps Al-en-07 (Mexico's pozole still its candidate) */
    CHECK_MSG(n == 5 && find(it, n, "blend:Mexico:Ne-ar-18:en") && find(it, n, "blend:US:Al-en-07:en"), "%zu items", n);
    quipu_items_free(it, n);

    /* JSON that does not parse: always an error (a file, not a row), with jansson's line */
    write_file("blend/data/annotations/Mexico_data.json", "{\n  \"Al-en-01\": {\"annotations\": [}\n}\n");
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, &o, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    snprintf(want, sizeof want, "%s:2: bad JSON: ", path);
    CHECK_MSG(!strncmp(err.msg, want, strlen(want)) && !strchr(err.msg, '\n'), "%s", err.msg);
    write_file("blend/data/annotations/Mexico_data.json", "{\"a\": {}, \"a\": {}}\n");
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, &o, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "Mexico_data.json:1: bad JSON: duplicate object key"), "%s", err.msg);
    write_file("blend/data/annotations/Mexico_data.json", "[1, 2]\n");
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, &o, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "Mexico_data.json:1: expected a JSON object keyed by question id"), "%s", err.msg);

    /* question rows: unknown id, repeated id, empty topic; an empty question text leaves out its
     * language's item only */
    write_slice();
    write_file("blend/data/questions/Mexico_questions.csv",
               ",ID,Topic,Source,Question,Translation\n0,Zz-en-99,Food,x,a,b\n1,Al-en-01,Food,x, ,What is a common snack in Mexico?\n"
               "2,Al-en-01,Food,x,a,b\n3,Al-en-07,,x,a,b\n4,Gu-ch-16,Education,x,c,d\n");
    snprintf(path, sizeof path, "%s/blend/data/questions/Mexico_questions.csv", g_dir);
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, NULL, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    snprintf(want, sizeof want, "%s:2: question 'Zz-en-99' has no entry in blend/data/annotations/Mexico_data.json", path);
    CHECK_MSG(!strcmp(err.msg, want), "%s", err.msg);
    quipu_error_clear(&err);
    CHECK_MSG(quipu_load_benchmark("blend", g_dir, &o, &it, &n, &rep, &err) == QUIPU_OK, "%s", err.msg);
    CHECK_MSG(rep.rows_skipped == 3 && strstr(rep.reasons[1], ":4: question 'Al-en-01' is listed twice (first on line 3)") &&
                  strstr(rep.reasons[2], ":5: empty Topic"),
              "%zu: %s | %s", rep.rows_skipped, rep.reasons[1], rep.reasons[2]);
    /* Al-en-01 in English only; Gu-ch-16, whose English text "d" asks for no number, compares its
     * answers as text: US "30" holds Mexico's "3", Spain "03" too: 2 distractors, none; the US
     * Al-en-07 as before */
    CHECK_MSG(n == 2 && find(it, n, "blend:Mexico:Al-en-01:en") && find(it, n, "blend:US:Al-en-07:en"), "%zu items", n);
    /* Mexico's 4 left-out rows are not listed; now its Spanish Al-en-01 and Gu-ch-16 are left out */
    CHECK_MSG(rep.rows_excluded == 123 - 4 + 2, "%zu left out", rep.rows_excluded);
    quipu_items_free(it, n);

    /* a prompts file without an inst-4 row */
    write_slice();
    write_file("blend/data/prompts/Spain_prompts.csv", "id,English,Translation\ninst-1,\"{q}\",\"{q}\"\n");
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, NULL, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "blend/data/prompts/Spain_prompts.csv: no usable 'inst-4' row"), "%s", err.msg);
    write_file("blend/data/prompts/Spain_prompts.csv", "id,English,Translation\ninst-4,\"{q}\",\"sin pregunta\"\n");
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", g_dir, NULL, &it, &n, &rep, &err) == QUIPU_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "Spain_prompts.csv:2: inst-4: the Translation prompt must hold {q} exactly once"), "%s", err.msg);
    write_slice();

    /* no datasets folder: one line naming the first file and where the files come from */
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", "/nonexistent/datasets", NULL, &it, &n, &rep, &err) == QUIPU_ERR_IO);
    CHECK_MSG(strstr(err.msg, "/nonexistent/datasets/blend/data/annotations/Algeria_data.json") &&
                  strstr(err.msg, "scripts/fetch-datasets.sh") && !strchr(err.msg, '\n'),
              "%s", err.msg);
    /* a folder without BLEnD */
    char empty[4200];
    snprintf(empty, sizeof empty, "%s/empty", g_dir);
    quipu_error e2 = {0};
    CHECK(quipu_mkdir_p(empty, &e2) == QUIPU_OK);
    quipu_error_clear(&err);
    CHECK(quipu_load_benchmark("blend", empty, NULL, &it, &n, &rep, &err) == QUIPU_ERR_IO);
    CHECK_MSG(strstr(err.msg, "does not have blend's files: fetch them with scripts/fetch-datasets.sh"), "%s", err.msg);
}

/* Counts on the staged files, equal to this Python recount (Python 3; the rule of blend.c):
 *   C = the 16 names; D[c] = json.load(annotations/<c>_data.json); WS = ' \t\n\r\v\f'
 *   forms(a) = [e.strip(WS) for e in a['en_answers'] if e.strip(WS)]; en(a) = forms(a)[0] or None
 *   fmt(q): 'time' if 'HH:MM' in q, 'date' if 'MM/DD' in q, 'num' if 'Arabic numerals' in q (the
 *     Translation column); val(): [0-9]{2}:[0-9]{2} -> (h, m), [0-9]{1,2}/[0-9]{1,2} -> (m, d),
 *     [0-9]+(\.[0-9]+)? -> float; else None
 *   conflict(a, b): both have values -> equal values; else lower ASCII letters, then a in b or
 *     b in a, or a word (re.split('[WS/]+')) in common, or two words of >= 5 bytes with the
 *     same first 5 bytes
 *   per question row (c, q): v = D[c][q]; skip when v['idks'].get('not-applicable', 0) > 0 or
 *     sum(v['idks'].values()) > 2 or not v['annotations'] or max count < 2; gold = en(a) of the
 *     first a with the max count and en(a) (of the question's format, if any), else skip;
 *     mine = every form of every a of v; cand[o] = [en(a) for a in D[o][q]['annotations'] if
 *     a['count'] >= 2 and en(a) (of the format) and no conflict with mine]; countries o != c
 *     sorted by (splitmix64(fnv1a64(f'blend:{c}:{q}\x1f{o}'.encode())), o); take from each the
 *     first candidate that conflicts with no distractor taken, until 3; fewer: skip; choices =
 *     sorted([gold] + 3, key=str.encode), label = choices.index(gold)
 *   items = 2 per kept (c, q), 1 for the US and UK
 * which gave, per country (questions kept = items in its local language = items in English):
 *   Algeria 315, Assam 332, Azerbaijan 340, China 367, Ethiopia 340, Greece 345, Indonesia 356,
 *   Iran 325, Mexico 365, North Korea 295, Northern Nigeria 274, South Korea 410, Spain 343,
 *   UK 339, US 317, West Java 309: 5,372 kept, 2,628 left out, 10,088 items; labels 0: 1,269,
 *   1: 1,382, 2: 1,361, 3: 1,360 (per kept question).
 *   Mexico by topic: Education 60, Family 46, Food 91, Holidays/Celebration/Leisure 66, Sport 60,
 *   Work life 42; Spain: 50, 46, 85, 56, 62, 44. */
static const struct {
    const char *name, *language, *culture;
    size_t n;
} k_recount[] = {
    {"Algeria", "ar-DZ", "DZ", 315},         {"Assam", "as-IN", "IN-AS", 332},     {"Azerbaijan", "az-AZ", "AZ", 340},
    {"China", "zh-CN", "CN", 367},           {"Ethiopia", "am-ET", "ET", 340},     {"Greece", "el-GR", "GR", 345},
    {"Indonesia", "id-ID", "ID", 356},       {"Iran", "fa-IR", "IR", 325},         {"Mexico", "es-MX", "MX", 365},
    {"North_Korea", "ko-KP", "KP", 295},     {"Northern_Nigeria", "ha-NG", "NG-North", 274},
    {"South_Korea", "ko-KR", "KR", 410},     {"Spain", "es-ES", "ES", 343},        {"UK", NULL, "GB", 339},
    {"US", NULL, "US", 317},                 {"West_Java", "su-ID", "ID-JB", 309},
};

static void test_staged(const char *ds) {
    double t0 = quipu_time_now();
    quipu_item *it = NULL;
    size_t n = 0;
    quipu_load_report rep;
    quipu_error err = {0};
    quipu_status st = quipu_load_benchmark("blend", ds, NULL, &it, &n, &rep, &err);
    CHECK_MSG(st == QUIPU_OK, "%s", err.msg);
    if (st) return;
    printf("blend %zu items, %zu files, %.2f s\n", n, rep.files, quipu_time_now() - t0);
    CHECK_MSG(n == 10088 && rep.rows_excluded == 2628 && rep.rows_skipped == 0 && rep.files == 48, "%zu items, %zu left out", n,
              rep.rows_excluded);
    size_t labels[4] = {0};
    for (size_t k = 0; k < sizeof k_recount / sizeof *k_recount; k++) {
        size_t loc = 0, en = 0, other = 0;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(it[i].culture, k_recount[k].culture)) continue;
            if (!strcmp(it[i].language, "en")) en++;
            else if (k_recount[k].language && !strcmp(it[i].language, k_recount[k].language)) loc++;
            else other++;
        }
        size_t want_loc = k_recount[k].language ? k_recount[k].n : 0;
        CHECK_MSG(en == k_recount[k].n && loc == want_loc && !other, "%s: %zu local, %zu English, %zu other (recount %zu)", k_recount[k].name,
                  loc, en, other, k_recount[k].n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(it[i].language, "en") && it[i].label >= 0 && it[i].label < 4) labels[it[i].label]++;
        CHECK(it[i].n_choices == 4 && it[i].kind == QUIPU_ITEM_MC);
    }
    CHECK_MSG(labels[0] == 1269 && labels[1] == 1382 && labels[2] == 1361 && labels[3] == 1360, "labels %zu %zu %zu %zu", labels[0],
              labels[1], labels[2], labels[3]);
    static const char *const topics[] = {"Education", "Family", "Food", "Holidays/Celebration/Leisure", "Sport", "Work life"};
    static const size_t mx[] = {60, 46, 91, 66, 60, 42}, es[] = {50, 46, 85, 56, 62, 44};
    for (int t = 0; t < 6; t++) {
        size_t a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            a += !strcmp(it[i].language, "es-MX") && !strcmp(it[i].category, topics[t]);
            b += !strcmp(it[i].language, "es-ES") && !strcmp(it[i].category, topics[t]);
        }
        CHECK_MSG(a == mx[t] && b == es[t], "%s: es-MX %zu, es-ES %zu", topics[t], a, b);
    }
    /* spot items (the recount's choices and labels) */
    const quipu_item *x = find(it, n, "blend:Mexico:Al-en-01:es-MX");
    if (x) {
        CHECK_MSG(!strcmp(joined(x), "candy|cookie|egg|plantatin") && x->label == 2, "%s %d", joined(x), x->label);
        CHECK(!strcmp(x->context, "Lea la siguiente pregunta y proporcione una única respuesta sin explicaciones.\n\n"
                                  "Pregunta: ¿Cuál es una merienda común para niños de preescolar en México?\nRespuesta:"));
    }
    x = find(it, n, "blend:Spain:Al-en-01:en");
    if (x) {
        CHECK_MSG(!strcmp(joined(x), "apple|chocolate paste|egg|fruit") && x->label == 3, "%s %d", joined(x), x->label);
        CHECK(!strcmp(x->context, "Read the following question and provide a single answer without any explanations.\n\n"
                                  "Question: What is a common snack for preschool kids in Spain?\nAnswer:"));
    }
    x = find(it, n, "blend:Mexico:An-ar-34:en");
    if (x) CHECK_MSG(!strcmp(joined(x), "dodgeball|handball|soccer|volleyball") && x->label == 2, "%s %d", joined(x), x->label);
    x = find(it, n, "blend:US:Al-en-04:en");
    if (x) {
        CHECK_MSG(!strcmp(joined(x), "apple|dates|durian|watermelon") && x->label == 0, "%s %d", joined(x), x->label);
        CHECK(strstr(x->context, "Question: What is the most popular fruit in the US?\nAnswer:") != NULL);
    }
    /* the two languages of a question share their choices */
    int same = 1;
    for (size_t i = 0; i + 1 < n; i++)
        if (strcmp(it[i].language, "en") && !strcmp(it[i + 1].language, "en")) {
            char a[1024];
            snprintf(a, sizeof a, "%s", joined(&it[i]));
            same &= !strcmp(a, joined(&it[i + 1])) && it[i].label == it[i + 1].label;
        }
    CHECK(same);
    quipu_items_free(it, n);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/blend-%d", test_env("QUIPU_TEST_TMP", "/tmp"), (int)getpid());
    test_slice();
    test_bad_rows();
    const char *shared = test_env("QUIPU_SHARED", "../shared");
    char ds[4096];
    snprintf(ds, sizeof ds, "%s/datasets", shared);
    if (test_file_exists(test_path(ds, "blend/data/annotations/Mexico_data.json")))
        test_staged(ds);
    else
        printf("note: %s has no BLEnD files: the counts on the staged files are not checked\n", ds);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", g_dir);
    return test_finish("test_data_blend");
}
