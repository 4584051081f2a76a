/* hfcache.h — models named `hf:ORG/NAME[@REV]`, found where they already are on disk: the
 * Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub, in its
 * models--ORG--NAME/snapshots/<commit> layout, REV a commit or a ref such as main), then Jean
 * Zay's $DSDIR/HuggingFace_Models/ORG/NAME. Never a download. */
#ifndef QUIPU_HFCACHE_H
#define QUIPU_HFCACHE_H

#include "common.h"

/* 1 if spec starts with "hf:" */
int quipu_hf_is_spec(const char *spec);
/* The checkpoint folder (or the one GGUF file in it) that spec names, malloc'ed in *out; an
 * error naming every place looked at otherwise. */
quipu_status quipu_hf_resolve(const char *spec, char **out, quipu_error *err);

#endif
