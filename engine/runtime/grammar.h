/* Grammars (docs/grammar.md): a BNF-like text parsed into rules of code-point classes and rule references
 * (grammar_parse.c), and a matcher that follows every way the text so far can continue as a set of
 * stacks, as llama.cpp's GBNF does (grammar_match.c). The sampler stage (grammar_sampler.c) asks the matcher
 * which tokens of a vocabulary may come next, walking a trie of the tokens' texts built once per model. */
#ifndef VKSLM_RUNTIME_GRAMMAR_H
#define VKSLM_RUNTIME_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

/* ---- the parsed grammar -------------------------------------------------------------------------- */
typedef enum vkslm_gel_type {
    VKSLM_GEL_END,   /* end of a rule (and of its last alternative) */
    VKSLM_GEL_ALT,   /* end of an alternative; the next one follows */
    VKSLM_GEL_REF,   /* val: the rule referenced */
    VKSLM_GEL_CLASS  /* val: the class one code point must match */
} vkslm_gel_type;

typedef struct vkslm_gel {
    uint32_t type; /* vkslm_gel_type */
    uint32_t val;
} vkslm_gel;

typedef struct vkslm_grange {
    uint32_t lo, hi; /* code points, inclusive */
} vkslm_grange;

typedef struct vkslm_gclass {
    uint32_t first, n; /* ranges[first .. first + n) */
    bool negated;
} vkslm_gclass;

typedef struct vkslm_grammar {
    vkslm_gel *el;        /* every rule's elements, one after another */
    size_t n_el;
    vkslm_grange *ranges;
    size_t n_ranges;
    vkslm_gclass *classes;
    size_t n_classes;
    uint32_t *alt_first;  /* [n_rules + 1] alts[alt_first[r] .. alt_first[r + 1]) start rule r's alternatives */
    uint32_t *alts;       /* element index of each alternative's first element */
    size_t n_rules;
    uint32_t root;        /* the start rule */
} vkslm_grammar;

/* Parses text (NUL-terminated) with start rule root (NULL: "root"). Errors: VKSLM_ERR_INVALID_ARG with
 * "grammar LINE:COLUMN: what" (syntax, undefined or duplicate rules, left recursion, a missing root, size
 * limits); out of memory. */
vkslm_status vkslm_grammar_parse(const char *text, const char *root, vkslm_grammar **out);
void vkslm_grammar_free(vkslm_grammar *g);
/* True when code point cp is in class c. */
bool vkslm_gclass_has(const vkslm_grammar *g, uint32_t c, uint32_t cp);

/* ---- matching -------------------------------------------------------------------------------------- */
typedef struct vkslm_gmatch vkslm_gmatch;

#define VKSLM_GRAMMAR_MAX_STACKS 1024 /* ways to continue at one point; more: the grammar is refused */

vkslm_status vkslm_gmatch_create(const vkslm_grammar *g, vkslm_gmatch **out);
void vkslm_gmatch_free(vkslm_gmatch *m);
/* Back to the start (nothing matched); clears an error. */
void vkslm_gmatch_reset(vkslm_gmatch *m);
/* Advances over bytes (a token's text: may end or begin inside a UTF-8 character). False, with the state
 * unchanged, when the grammar cannot continue with them (or they are not UTF-8). */
bool vkslm_gmatch_accept(vkslm_gmatch *m, const char *bytes, size_t n);
/* The text so far is a whole sentence of the grammar (an end of generation may come now). */
bool vkslm_gmatch_complete(const vkslm_gmatch *m);
/* Complete, and nothing may follow. */
bool vkslm_gmatch_done(const vkslm_gmatch *m);
/* Set when the stacks overflowed VKSLM_GRAMMAR_MAX_STACKS (or memory ran out): then nothing is allowed. */
vkslm_status vkslm_gmatch_error(const vkslm_gmatch *m);
/* Records an error (the first one stays): nothing is allowed after it. */
void vkslm_gmatch_set_error(vkslm_gmatch *m, vkslm_status st);
/* An end of generation was accepted: nothing more is allowed until a reset. */
void vkslm_gmatch_end(vkslm_gmatch *m);

/* A trie of a vocabulary's token texts (vkslm_gvocab_build in grammar_sampler.c). */
typedef struct vkslm_gtrie_node {
    uint32_t child;  /* first child's index (children are contiguous, sorted by byte) */
    uint32_t n_child;
    uint32_t tok;    /* first index into the trie's token list of the tokens whose text ends here */
    uint32_t n_tok;
    uint8_t byte;    /* the byte leading from the parent here */
} vkslm_gtrie_node;

typedef struct vkslm_gvocab {
    vkslm_gtrie_node *nodes; /* [0] is the root (the empty text) */
    size_t n_nodes;
    int32_t *toks;           /* token ids, grouped by node */
    int32_t *eog;            /* end-of-generation ids */
    size_t n_eog;
    uint32_t n_vocab;
} vkslm_gvocab;

/* Marks allowed[id] = 1 for every token of v whose text may come next (others untouched: the caller
 * zeroes allowed first), end-of-generation tokens when the text is complete. */
void vkslm_gmatch_allowed(vkslm_gmatch *m, const vkslm_gvocab *v, uint8_t *allowed);

/* ---- the sampler stage ----------------------------------------------------------------------------- */
/* The stage of vkslm_sampler_init_grammar, with its matcher in *match (owned by the stage) so that
 * vkslm_generate can ask whether the grammar is done or failed. */
vkslm_status vkslm_grammar_stage(const vkslm_model *model, const char *grammar, const char *root,
                                 vkslm_sampler **out, vkslm_gmatch **match);
/* The per-model trie (built by the first call, then shared; freed with the model). */
vkslm_status vkslm_gvocab_get(const vkslm_model *model, const vkslm_gvocab **out);
void vkslm_gvocab_free(vkslm_gvocab *v);

#endif
