/* assoc.h — association templates, for the SeeGULL benchmarks (docs/benchmarks.md "SeeGULL",
 * docs/metrics.md "Association"). A template turns an identity into a prompt that ends where the
 * attribute starts ("{identity}: {attribute}" → "afganos:" + " terrorista"); its `neutral` twin
 * says the same about a neutral subject ("Personas: {attribute}"), the baseline of Kurita et al.
 * (2019)'s increased log-probability. Templates are chosen per language: those a run config gives
 * (`association_templates`), else the built-in defaults below. */
#ifndef QUIPU_DATA_ASSOC_H
#define QUIPU_DATA_ASSOC_H

#include <stddef.h>

typedef struct quipu_assoc_template {
    const char *language; /* the BCP-47 tag or prefix it serves: "es" serves es-MX and es-ES */
    const char *id;       /* [A-Za-z0-9._-]+, unique within its language */
    const char *text;     /* "{identity}" once; ends with "{attribute}", which appears once */
    const char *neutral;  /* no "{identity}"; ends with "{attribute}", which appears once */
} quipu_assoc_template;

/* The most templates one language may have. */
#define QUIPU_ASSOC_MAX_TEMPLATES 16

/* NULL when (text, neutral) is a valid pair, else why not (a static string). */
const char *quipu_assoc_template_check(const char *text, const char *neutral);

/* The templates for an item language: among `given` (a run config's; may be NULL), those whose
 * language is the most specific match of `language` (the tag itself, then the longest prefix by
 * whole subtags); when none matches, the built-in defaults of its primary subtag. Writes at most
 * `max` pointers to out and returns how many there are (0: none for this language). */
size_t quipu_assoc_templates_for(const char *language, const quipu_assoc_template *given, size_t n_given,
                                 const quipu_assoc_template **out, size_t max);

/* The built-in defaults, all languages, NULL-terminated by a zero entry; for docs and tests. */
const quipu_assoc_template *quipu_assoc_default_templates(void);

/* The prompt of `subject` under a template text (text or neutral): the text before "{attribute}",
 * with "{identity}" replaced by subject (subject may be NULL for a neutral text). Heap string
 * (caller frees), or NULL when out of memory. The separator before the attribute (a space) stays
 * at the end; the scorer moves it to the continuation, as lm-evaluation-harness does. */
char *quipu_assoc_prompt(const char *text, const char *subject);

#endif
