/* hfcache.c — `hf:ORG/NAME[@REV]` to a folder on disk (hfcache.h). */
#define _GNU_SOURCE
#include "hfcache.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int quipu_hf_is_spec(const char *spec) { return spec && !strncmp(spec, "hf:", 3); }

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* a repository id part: letters, digits, '-', '_', '.', not starting with '.' */
static int valid_part(const char *s, size_t n) {
    if (n == 0 || n > 96 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return 0;
    }
    return 1;
}

/* dir itself when it holds config.json, else its only .gguf file; NULL otherwise */
static char *checkpoint_in(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (is_file(p)) return strdup(dir);
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".gguf")) {
            n++;
            free(found);
            found = quipu_asprintf("%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (n != 1) {
        free(found);
        return NULL;
    }
    return found;
}

quipu_status quipu_hf_resolve(const char *spec, char **out, quipu_error *err) {
    *out = NULL;
    const char *id = spec + 3, *slash = strchr(id, '/'), *at = strchr(id, '@');
    size_t id_len = at ? (size_t)(at - id) : strlen(id);
    if (!slash || slash > id + id_len || !valid_part(id, (size_t)(slash - id)) ||
        !valid_part(slash + 1, id_len - (size_t)(slash + 1 - id)) || (at && !valid_part(at + 1, strlen(at + 1))))
        return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: expected hf:ORG/NAME or hf:ORG/NAME@REVISION", spec);
    char org[128], name[128], rev[128] = "main";
    snprintf(org, sizeof org, "%.*s", (int)(slash - id), id);
    snprintf(name, sizeof name, "%.*s", (int)(id_len - (size_t)(slash + 1 - id)), slash + 1);
    if (at) snprintf(rev, sizeof rev, "%s", at + 1);

    /* 1. the Hugging Face cache */
    char hub[2048], looked[8400] = "";
    const char *hc = getenv("HF_HUB_CACHE"), *hh = getenv("HF_HOME"), *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
    if (hc && *hc) snprintf(hub, sizeof hub, "%s", hc);
    else if (hh && *hh) snprintf(hub, sizeof hub, "%s/hub", hh);
    else if (xdg && *xdg) snprintf(hub, sizeof hub, "%s/huggingface/hub", xdg);
    else snprintf(hub, sizeof hub, "%s/.cache/huggingface/hub", home ? home : "");
    char repo[4096], snap[4600], ref[4600];
    snprintf(repo, sizeof repo, "%s/models--%s--%s", hub, org, name);
    snprintf(looked, sizeof looked, "%s", repo);
    if (is_dir(repo)) {
        /* REV: a ref (refs/REV holds the commit) or a commit itself */
        char commit[128] = "";
        snprintf(ref, sizeof ref, "%s/refs/%s", repo, rev);
        FILE *f = fopen(ref, "r");
        if (f) {
            if (fgets(commit, sizeof commit, f)) commit[strcspn(commit, " \r\n")] = '\0';
            fclose(f);
        }
        if (!*commit || !valid_part(commit, strlen(commit))) snprintf(commit, sizeof commit, "%s", rev);
        snprintf(snap, sizeof snap, "%s/snapshots/%s", repo, commit);
        if (is_dir(snap)) {
            if ((*out = checkpoint_in(snap))) return QUIPU_OK;
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %s has neither config.json nor exactly one .gguf file", spec, snap);
        }
        return quipu_error_set(err, QUIPU_ERR_IO, "%s: revision '%s' is not in the cache (%s has no snapshots/%s); quipu never downloads: "
                               "fetch it beforehand where there is a network", spec, rev, repo, commit);
    }
    /* 2. Jean Zay's shared models */
    const char *ds = getenv("DSDIR");
    if (ds && *ds) {
        char p[4096];
        snprintf(p, sizeof p, "%s/HuggingFace_Models/%s/%s", ds, org, name);
        size_t l = strlen(looked);
        snprintf(looked + l, sizeof looked - l, ", %s", p);
        if (is_dir(p)) {
            if (at) return quipu_error_set(err, QUIPU_ERR_INVALID, "%s: %s holds one revision only; leave out @%s", spec, p, rev);
            if ((*out = checkpoint_in(p))) return QUIPU_OK;
            return quipu_error_set(err, QUIPU_ERR_FORMAT, "%s: %s has neither config.json nor exactly one .gguf file", spec, p);
        }
    }
    return quipu_error_set(err, QUIPU_ERR_IO, "%s: not on this machine (looked in %s); quipu never downloads: fetch it beforehand "
                           "where there is a network, or give the path", spec, looked);
}
