/* Chat templates: an interpreter of the Jinja2 subset that published chat templates use (the GGUF key
 * tokenizer.chat_template), rendered the way Hugging Face transformers' apply_chat_template renders them
 * (trim_blocks and lstrip_blocks on, raise_exception and strftime_now defined), plus built-in templates of
 * the known families (chatml, llama3, ...) as a fallback.
 *
 *     vkslm_chat_render_params p = {.bos_token = "<s>", .eos_token = "</s>", .add_generation_prompt = true};
 *     char *text; size_t len;
 *     if (vkslm_chat_template_render(tmpl, strlen(tmpl), msgs, n, &p, &text, &len) == VKSLM_OK) { ...; free(text); }
 *
 * Errors: VKSLM_ERR_FORMAT for a template that does not parse or fails while rendering (the message names
 * line:column and the construct), VKSLM_ERR_UNSUPPORTED for Jinja this interpreter lacks, VKSLM_ERR_INVALID_ARG
 * when the template itself refuses the conversation (raise_exception: the message is the template's),
 * VKSLM_ERR_LIMIT when a hostile template exceeds the bounds below. */
#ifndef VKSLM_TOKENIZER_CHAT_TEMPLATE_H
#define VKSLM_TOKENIZER_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkslm.h"

/* Bounds that keep a hostile template from hanging or exhausting memory. */
#define VKSLM_CHAT_MAX_DEPTH 64                /* nesting of statements and expressions */
#define VKSLM_CHAT_MAX_STEPS 5000000u          /* evaluated statements and expressions */
#define VKSLM_CHAT_MAX_OUTPUT (16u << 20)      /* bytes of rendered text */
#define VKSLM_CHAT_MAX_MEMORY (128u << 20)     /* bytes of interpreter memory */

typedef struct vkslm_chat_render_params {
    const char *bos_token, *eos_token; /* NULL: "" */
    bool add_generation_prompt;
    int64_t now; /* seconds since the epoch that strftime_now() formats (local time); 0: the current time */
} vkslm_chat_render_params;

/* Renders tmpl[0..len) for msgs; *out (malloc'd, NUL-terminated, the caller frees it) and *out_len. */
vkslm_status vkslm_chat_template_render(const char *tmpl, size_t len, const vkslm_chat_message *msgs, size_t n,
                                        const vkslm_chat_render_params *p, char **out, size_t *out_len);

/* The built-in template of a family name ("chatml", "llama3", "llama2", "mistral", "phi3", "gemma",
 * "deepseek"), or NULL. */
const char *vkslm_chat_family_template(const char *name);
/* The family whose markers a template contains, or NULL. */
const char *vkslm_chat_family_detect(const char *tmpl, size_t len);
/* The family names, separated by ", " (for messages). */
const char *vkslm_chat_family_names(void);
#endif
