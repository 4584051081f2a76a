/* main.c — the quipu command line: parses arguments, runs one command, turns errors into a
 * one-line message and a non-zero exit status. The commands' behaviour is a contract (DESIGN.md):
 *   quipu score --model PATH [--adapter DIR]... [--backend cpu|cuda|hip] [--per-token]
 *   quipu tokenize --model PATH [--add-special]
 *   quipu inspect PATH */
#define _GNU_SOURCE
#include <getopt.h>
#include <unistd.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "backend.h"
#include "common.h"
#include "data/loaders.h"
#include "hfcache.h"
#include "metrics.h"
#include "model.h"
#include "report.h"
#include "run.h"
#include "score.h"
#include "sweep.h"
#include "template.h"
#include "tokenizer.h"

enum { EXIT_USAGE = 2 };

static void print_version(void) {
#ifdef QUIPU_WITH_MPI
    const char *mpi = "MPI";
#else
    const char *mpi = "no MPI (one process; mpirun would run copies)";
#endif
    printf("quipu %s (%s)\nbackends: %s; %s\n", QUIPU_VERSION, QUIPU_GIT_HASH, quipu_backend_built_list(), mpi);
}

static void usage_main(FILE *f) {
    fprintf(f,
            "usage: quipu COMMAND [OPTIONS]\n"
            "\n"
            "Measures socio-cultural bias in language models across languages and cultures.\n"
            "\n"
            "commands:\n"
            "  score     log-likelihood of continuations given contexts (JSON lines on stdin)\n"
            "  tokenize  token ids of JSON strings on stdin\n"
            "  inspect   architecture, hyper-parameters, tensors and tokenizer of a model\n"
            "  run       run an experiment config (YAML): models x benchmarks -> bias metrics\n"
            "  report    side-by-side tables, paired tests and plots from finished runs\n"
            "  sweep     many models as one Slurm job array plus a report job: quipu sweep [status|report] SWEEP.yaml\n"
            "  expand    a template benchmark definition (YAML) -> generic JSON lines: quipu expand DEF.yaml [-o OUT.jsonl]\n"
            "  list      what is built in: quipu list benchmarks | metrics | backends\n"
            "\n"
            "Run 'quipu COMMAND --help' for a command's options; 'quipu --version' for the version.\n");
}

/* A --model argument: hf:ORG/NAME[@REV] becomes the folder it names on disk (hfcache.h); a path
 * is kept. Returns the path to use (static storage), NULL with err set. */
static const char *model_arg(const char *arg, quipu_error *err) {
    static char *resolved;
    if (!quipu_hf_is_spec(arg)) return arg;
    free(resolved);
    resolved = NULL;
    if (quipu_hf_resolve(arg, &resolved, err)) return NULL;
    return resolved;
}

/* ------------------------------------------------------------------ line input */

typedef struct line_reader {
    FILE *f;
    char *buf;
    size_t cap;
    long lineno;
} line_reader;

/* Returns the line length (without the newline), or -1 at end of input. */
static ssize_t read_line(line_reader *r) {
    ssize_t n = getline(&r->buf, &r->cap, r->f);
    if (n < 0) return -1;
    r->lineno++;
    while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r')) r->buf[--n] = '\0';
    return n;
}

static int is_blank(const char *s, ssize_t n) {
    for (ssize_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

/* ------------------------------------------------------------------ score */

#define SCORE_MAX_ADAPTERS 64

typedef struct score_opts {
    const char *model, *backend, *dtype;
    const char *adapters[SCORE_MAX_ADAPTERS]; /* applied in order after loading (adapter.h) */
    int n_adapters;
    int per_token, ids, threads;
    int64_t batch_tokens, max_length;
} score_opts;

static void usage_score(FILE *f) {
    fprintf(f,
            "usage: quipu score --model PATH [--adapter DIR]... [--backend cpu|cuda|hip] [--dtype auto|f32|bf16|f16]\n"
            "                   [--per-token] [--threads N] [--batch-tokens N] [--max-length N]\n"
            "\n"
            "Reads JSON lines {\"context\": \"...\", \"continuation\": \"...\"} on stdin and writes one JSON line per\n"
            "input: {\"logprob\": sum, \"n_tokens\": k, \"is_greedy\": bool} (+ \"token_logprobs\" with --per-token).\n"
            "Conventions follow lm-evaluation-harness: the context's trailing whitespace moves to the\n"
            "continuation, the pair is encoded whole and split at the context's token length, and an empty\n"
            "context becomes one prefix token (BOS, else EOS). Results do not depend on --batch-tokens.\n"
            "On a masked LM (BERT, RoBERTa, XLM-R, CamemBERT) the score is the continuation's pseudo-log-likelihood:\n"
            "each of its tokens masked in turn, the rest and the special tokens visible (docs/metrics.md).\n"
            "\n"
            "  --model PATH        GGUF file or Hugging Face checkpoint directory\n"
            "  --adapter DIR       a PEFT LoRA folder or a weight delta (.safetensors) applied to the weights\n"
            "                      before scoring; repeatable, applied in order (docs/mitigation.md)\n"
            "  --backend NAME      cpu (default), cuda or hip\n"
            "  --dtype TYPE        weights on the device: auto (the backend's default: cpu f32, GPU bf16), f32\n"
            "                      (exact mode), bf16 or f16 (GPU only; activations and sums stay fp32)\n"
            "  --per-token         also print each continuation token's log-probability\n"
            "  --ids               also print the scored token ids (context_ids, continuation_ids)\n"
            "  --threads N         CPU threads (default: all)\n"
            "  --batch-tokens N    tokens per forward pass (default 2048)\n"
            "  --max-length N      left-truncate longer inputs (default: the model's context)\n");
}

#define SCORE_CHUNK 256

static void print_result(const quipu_score_result *r, int per_token, int ids) {
    printf("{\"logprob\": %.17g, \"n_tokens\": %d, \"is_greedy\": %s", r->logprob, r->n_tokens, r->is_greedy ? "true" : "false");
    if (per_token) {
        printf(", \"token_logprobs\": [");
        for (int32_t k = 0; k < r->n_tokens; k++) printf(k ? ", %.17g" : "%.17g", r->token_logprobs[k]);
        printf("]");
    }
    if (ids) {
        printf(", \"context_ids\": [");
        for (int32_t k = 0; k < r->n_context; k++) printf(k ? ", %d" : "%d", r->tokens[k]);
        printf("], \"continuation_ids\": [");
        for (int32_t k = 0; k < r->n_tokens; k++) printf(k ? ", %d" : "%d", r->tokens[r->n_context + k]);
        printf("]");
    }
    printf("}\n");
}

/* Up to SCORE_CHUNK lines of stdin and their scoring. Two alternate: while one's last batch runs,
 * the next lines are read, tokenized and their first batch begun (docs/gpu.md); results are
 * printed in input order, a chunk's before the next one's. */
typedef struct score_chunk {
    quipu_score_item items[SCORE_CHUNK];
    json_t *docs[SCORE_CHUNK];
    quipu_score_group groups[SCORE_CHUNK];
    size_t n;
    quipu_score_result *res;
    quipu_score_job *job;     /* begun, not printed yet */
} score_chunk;

/* Tokenizes the chunk's items and begins its first batch. */
static quipu_status score_begin(quipu_model *m, const score_opts *o, score_chunk *c, quipu_error *err) {
    if (c->n == 0) return QUIPU_OK;
    for (size_t i = 0; i < c->n; i++)
        c->groups[i] = (quipu_score_group){.context = c->items[i].context, .context_len = c->items[i].context_len, .n_cont = 1,
                                           .continuations = &c->items[i].continuation, .continuation_lens = &c->items[i].continuation_len};
    if (!(c->res = calloc(c->n, sizeof *c->res))) return quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
    quipu_scorer_opts so = {.batch_tokens = o->batch_tokens, .max_length = o->max_length};
    quipu_status st = quipu_score_job_new(&c->job, m, &so, c->groups, c->n, c->res, err);
    if (!st && quipu_score_job_more(c->job)) st = quipu_score_job_step(c->job, err);
    return st;
}

/* Runs the chunk's remaining batches but the last (left in flight). */
static quipu_status score_run(score_chunk *c, quipu_error *err) {
    quipu_status st = QUIPU_OK;
    while (!st && c->job && quipu_score_job_more(c->job)) st = quipu_score_job_step(c->job, err);
    return st;
}

/* Ends the chunk's last batch and prints its results (if print and all went well); frees its texts. */
static quipu_status score_end(const score_opts *o, score_chunk *c, int print, quipu_error *err) {
    quipu_status st = c->job && print ? quipu_score_job_finish(c->job, err) : QUIPU_OK;
    if (st == QUIPU_OK && print && c->job)
        for (size_t i = 0; i < c->n; i++) print_result(&c->res[i], o->per_token, o->ids);
    fflush(stdout);
    if (c->job && print && !st)
        for (size_t i = 0; i < c->n; i++) quipu_score_result_free(&c->res[i]);
    quipu_score_job_free(c->job); /* the results too, unless finished */
    for (size_t i = 0; i < c->n; i++) json_decref(c->docs[i]);
    free(c->res);
    c->job = NULL;
    c->res = NULL;
    c->n = 0;
    return st;
}

/* The chunk cur is full, or the input is done: it begins, then the chunk before is printed, then
 * cur runs to its last batch. A failure of the chunk before comes first, as in input order. */
static quipu_status score_flush(quipu_model *m, const score_opts *o, score_chunk *ch, int *cur, quipu_error *err) {
    score_chunk *c = &ch[*cur], *prev = &ch[1 - *cur];
    quipu_error e = {0};
    quipu_status st = score_begin(m, o, c, &e);
    quipu_status sp = prev->job ? score_end(o, prev, 1, err) : QUIPU_OK;
    if (sp) return sp;
    if (st) return quipu_error_set(err, st, "%s", e.msg);
    if ((st = score_run(c, err))) return st;
    *cur = 1 - *cur;
    return QUIPU_OK;
}

static int cmd_score(int argc, char **argv, quipu_error *err) {
    score_opts o = {.backend = "cpu", .dtype = "auto", .threads = 0, .batch_tokens = 2048};
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},     {"adapter", required_argument, 0, 'a'}, {"backend", required_argument, 0, 'b'}, {"dtype", required_argument, 0, 'd'},
                                       {"per-token", no_argument, 0, 'p'},        {"ids", no_argument, 0, 'i'}, {"threads", required_argument, 0, 't'},
                                       {"batch-tokens", required_argument, 0, 'B'}, {"max-length", required_argument, 0, 'L'},
                                       {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o.model = optarg; break;
        case 'a':
            if (o.n_adapters == SCORE_MAX_ADAPTERS) {
                fprintf(stderr, "quipu score: at most %d --adapter options\n", SCORE_MAX_ADAPTERS);
                return EXIT_USAGE;
            }
            o.adapters[o.n_adapters++] = optarg;
            break;
        case 'b': o.backend = optarg; break;
        case 'd': o.dtype = optarg; break;
        case 'p': o.per_token = 1; break;
        case 'i': o.ids = 1; break;
        case 't': o.threads = atoi(optarg); break;
        case 'B': o.batch_tokens = atoll(optarg); break;
        case 'L': o.max_length = atoll(optarg); break;
        case 'h': usage_score(stdout); return 0;
        default: usage_score(stderr); return EXIT_USAGE;
        }
    }
    if (!o.model) {
        fprintf(stderr, "quipu score: --model PATH is required\n");
        return EXIT_USAGE;
    }
    if (o.batch_tokens <= 0) {
        fprintf(stderr, "quipu score: --batch-tokens must be a positive number\n");
        return EXIT_USAGE;
    }
    quipu_backend *b = NULL;
    quipu_model *m = NULL;
    if (quipu_backend_init(&b, o.backend, o.threads, err)) return 1;
    if (quipu_backend_set_dtype(b, o.dtype, err)) {
        quipu_backend_free(b);
        return 1;
    }
    const char *mpath = model_arg(o.model, err);
    if (!mpath || quipu_model_load(&m, mpath, b, err)) {
        quipu_backend_free(b);
        return 1;
    }
    /* every modification checked against the base before any weight changes or anything is scored */
    quipu_model_edits *edits = NULL;
    if (quipu_model_apply_adapters(m, o.adapters, o.n_adapters, &edits, err)) {
        quipu_model_free(m);
        quipu_backend_free(b);
        return 1;
    }
    quipu_model_edits_free(edits); /* the model is not scored without them again */
    score_chunk *ch = calloc(2, sizeof *ch);
    int cur = 0;
    if (!ch) {
        quipu_model_free(m);
        quipu_backend_free(b);
        quipu_error_set(err, QUIPU_ERR_NOMEM, "out of memory");
        return 1;
    }
    line_reader lr = {.f = stdin};
    ssize_t len;
    int rc = 0;
    while ((len = read_line(&lr)) >= 0) {
        if (is_blank(lr.buf, len)) continue;
        json_error_t je;
        json_t *doc = json_loadb(lr.buf, (size_t)len, 0, &je);
        const char *bad = NULL;
        char why[300];
        if (!doc) {
            snprintf(why, sizeof why, "invalid JSON: %s", je.text);
            bad = why;
        } else {
            json_t *ctx = json_object_get(doc, "context"), *cont = json_object_get(doc, "continuation");
            if (!json_is_object(doc)) bad = "expected a JSON object {\"context\": ..., \"continuation\": ...}";
            else if (ctx && !json_is_string(ctx)) bad = "\"context\" must be a string";
            else if (!json_is_string(cont)) bad = "missing string field \"continuation\"";
            else {
                score_chunk *sc = &ch[cur];
                sc->items[sc->n].context = ctx ? json_string_value(ctx) : "";
                sc->items[sc->n].context_len = ctx ? json_string_length(ctx) : 0;
                sc->items[sc->n].continuation = json_string_value(cont);
                sc->items[sc->n].continuation_len = json_string_length(cont);
                sc->docs[sc->n++] = doc;
                doc = NULL;
            }
        }
        if (bad) {
            json_decref(doc);
            /* finished work first: the lines before the bad one are scored and printed */
            if (score_flush(m, &o, ch, &cur, err) == QUIPU_OK && score_end(&o, &ch[1 - cur], 1, err) == QUIPU_OK)
                quipu_error_set(err, QUIPU_ERR_INVALID, "stdin:%ld: %s", lr.lineno, bad);
            rc = 1;
            break;
        }
        if (ch[cur].n == SCORE_CHUNK && score_flush(m, &o, ch, &cur, err)) {
            rc = 1;
            break;
        }
    }
    /* the last lines, then the chunk still in flight */
    if (!rc && (score_flush(m, &o, ch, &cur, err) || score_end(&o, &ch[1 - cur], 1, err))) rc = 1;
    score_end(&o, &ch[0], 0, err); /* after a failure: waits for a batch still in flight, frees */
    score_end(&o, &ch[1], 0, err);
    free(ch);
    free(lr.buf);
    quipu_model_free(m);
    quipu_backend_free(b);
    return rc;
}

/* ------------------------------------------------------------------ tokenize */

static void usage_tokenize(FILE *f) {
    fprintf(f,
            "usage: quipu tokenize --model PATH [--add-special]\n"
            "\n"
            "Reads one JSON string per line on stdin and writes one JSON array of token ids per line.\n"
            "No special tokens are added unless --add-special (as Hugging Face add_special_tokens).\n"
            "PATH may be a GGUF file, a checkpoint directory or a lone tokenizer.json.\n");
}

static int cmd_tokenize(int argc, char **argv, quipu_error *err) {
    const char *model = NULL;
    int add_special = 0;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'}, {"add-special", no_argument, 0, 'a'},
                                       {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'a': add_special = 1; break;
        case 'h': usage_tokenize(stdout); return 0;
        default: usage_tokenize(stderr); return EXIT_USAGE;
        }
    }
    if (!model) {
        fprintf(stderr, "quipu tokenize: --model PATH is required\n");
        return EXIT_USAGE;
    }
    quipu_tokenizer *tok = NULL;
    const char *mpath = model_arg(model, err);
    if (!mpath || quipu_tokenizer_load_path(&tok, mpath, err)) return 1;
    line_reader lr = {.f = stdin};
    ssize_t len;
    int rc = 0;
    while ((len = read_line(&lr)) >= 0) {
        if (is_blank(lr.buf, len)) continue;
        json_error_t je;
        json_t *doc = json_loadb(lr.buf, (size_t)len, JSON_DECODE_ANY, &je);
        if (!doc || !json_is_string(doc)) {
            quipu_error_set(err, QUIPU_ERR_INVALID, "stdin:%ld: %s%s", lr.lineno, doc ? "expected a JSON string" : "invalid JSON: ",
                            doc ? "" : je.text);
            json_decref(doc);
            rc = 1;
            break;
        }
        int32_t *ids = NULL;
        size_t nids = 0;
        if (quipu_tokenizer_encode(tok, json_string_value(doc), json_string_length(doc), add_special, &ids, &nids, err)) {
            json_decref(doc);
            rc = 1;
            break;
        }
        putchar('[');
        for (size_t i = 0; i < nids; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]\n", stdout);
        free(ids);
        json_decref(doc);
    }
    fflush(stdout);
    free(lr.buf);
    quipu_tokenizer_free(tok);
    return rc;
}

/* ------------------------------------------------------------------ inspect */

static void usage_inspect(FILE *f) {
    fprintf(f,
            "usage: quipu inspect PATH\n"
            "\n"
            "Prints, as JSON, the architecture, hyper-parameters, tensor count and types, tokenizer kind,\n"
            "special tokens and the memory the fp32 weights need. PATH: GGUF file or checkpoint directory.\n");
}

static int cmd_inspect(int argc, char **argv, quipu_error *err) {
    static const struct option lo[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'h') {
            usage_inspect(stdout);
            return 0;
        }
        usage_inspect(stderr);
        return EXIT_USAGE;
    }
    if (optind != argc - 1) {
        usage_inspect(stderr);
        return EXIT_USAGE;
    }
    const char *mpath = model_arg(argv[optind], err);
    return !mpath || quipu_model_describe(mpath, stdout, err) ? 1 : 0;
}

/* ------------------------------------------------------------------ list */

static int cmd_list(int argc, char **argv) {
    const char *what = argc >= 2 ? argv[1] : "";
    if (!strcmp(what, "benchmarks")) {
        const char *const *names = quipu_benchmark_names();
        for (int i = 0; names[i]; i++) printf("%-24s %s\n", names[i], quipu_benchmark_describe(names[i]));
        printf("%-24s %s\n", "(format: pairs | mc)", "your own JSON-lines benchmark: docs/benchmarks.md#generic-formats");
        printf("\nEach is described in docs/benchmarks.md; its metrics in docs/metrics.md.\n");
        return 0;
    }
    if (!strcmp(what, "metrics")) {
        for (int i = 0; quipu_metric_name(i); i++)
            printf("%-26s %s (docs/metrics.md#%s)\n", quipu_metric_name(i), quipu_metric_about(i), quipu_metric_doc(i));
        return 0;
    }
    if (!strcmp(what, "backends")) {
        printf("built in: %s (docs/gpu.md for cuda and hip)\n", quipu_backend_built_list());
        return 0;
    }
    fprintf(argc >= 2 && strcmp(what, "--help") ? stderr : stdout,
            "usage: quipu list benchmarks | metrics | backends\n\nWhat this quipu has built in, one line each, with where it is documented.\n");
    return argc >= 2 && !strcmp(what, "--help") ? 0 : EXIT_USAGE;
}

/* ------------------------------------------------------------------ main */

/* OpenMP threads that spin after a parallel region steal the cores of other ranks and programs
 * sharing the node (2-3x slower on small machines). The wait policy is read when libgomp loads,
 * before main, so quipu sets it and re-executes itself once; a user's setting wins. */
static void ensure_passive_omp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("QUIPU_NO_REEXEC")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    setenv("QUIPU_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): run on with the default policy */
}

int main(int argc, char **argv) {
    quipu_error err = {0};
    ensure_passive_omp(argv);
    /* QUIPU_LOG=debug|info|warn|error: the least severe messages printed (info by default) */
    const char *lv = getenv("QUIPU_LOG");
    if (lv && *lv) {
        static const char *const lvn[] = {"debug", "info", "warn", "error"};
        int found = 0;
        for (int i = 0; i < 4; i++)
            if (!strcmp(lv, lvn[i])) quipu_log_set_level((quipu_log_level)i), found = 1;
        if (!found) {
            fprintf(stderr, "quipu: QUIPU_LOG=%s: expected debug, info, warn or error\n", lv);
            return EXIT_USAGE;
        }
    }
    if (argc < 2) {
        usage_main(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    int rc;
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage_main(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        print_version();
        return 0;
    }
    if (!strcmp(cmd, "score")) rc = cmd_score(argc - 1, argv + 1, &err);
    else if (!strcmp(cmd, "tokenize")) rc = cmd_tokenize(argc - 1, argv + 1, &err);
    else if (!strcmp(cmd, "inspect")) rc = cmd_inspect(argc - 1, argv + 1, &err);
    else if (!strcmp(cmd, "run")) return quipu_run_main(argc - 1, argv + 1);
    else if (!strcmp(cmd, "report")) rc = quipu_report_main(argc - 1, argv + 1, &err) ? 1 : 0;
    else if (!strcmp(cmd, "list")) return cmd_list(argc - 1, argv + 1);
    else if (!strcmp(cmd, "sweep")) return quipu_sweep_main(argc - 1, argv + 1);
    else if (!strcmp(cmd, "expand")) return quipu_template_main(argc - 1, argv + 1);
    else {
        fprintf(stderr, "quipu: unknown command '%s' (try 'quipu --help')\n", cmd);
        return EXIT_USAGE;
    }
    if (rc && err.code) fprintf(stderr, "quipu %s: %s\n", cmd, err.msg);
    else if (rc == 1 && !err.code) fprintf(stderr, "quipu %s: failed\n", cmd);
    return rc;
}
