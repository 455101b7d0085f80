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
 * VKSLM_ERR_TOO_COMPLEX when a (hostile) template exceeds one of the bounds below: nesting, including
 * chains such as a + b + c or x|f|g that are as deep as they are long, steps, output, memory. */
#ifndef VKSLM_TOKENIZER_CHAT_TEMPLATE_H
#define VKSLM_TOKENIZER_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/tokenizer/tokenizer.h"
#include "vkslm.h"

/* Bounds that keep a hostile template from crashing, hanging or exhausting memory. */
#define VKSLM_CHAT_MAX_DEPTH 64                /* nesting of statements, expressions (a chain of n operators,
                                                * filters, subscripts or attributes is n deep) and values */
#define VKSLM_CHAT_MAX_STEPS 5000000u          /* evaluated statements and expressions */
#define VKSLM_CHAT_MAX_OUTPUT (16u << 20)      /* bytes of rendered text */
#define VKSLM_CHAT_MAX_MEMORY (128u << 20)     /* bytes of interpreter memory */

typedef struct vkslm_chat_render_params {
    const char *bos_token, *eos_token; /* NULL: "" */
    bool add_generation_prompt;
    int64_t now; /* seconds since the epoch that strftime_now() formats (local time); 0: the current time */
    /* Structured data (tool calling), as JSON text: messages_json, when not NULL, is the conversation (an
     * array of message objects, each with a "role" string; msgs and n are then unused), and tools_json, when
     * not NULL, the `tools` variable (an array). Every string in them is content (tainted) but the roles.
     * Tools given to a template that never names `tools` are refused (VKSLM_ERR_INVALID_ARG): it would drop
     * them without a word. */
    const char *messages_json, *tools_json;
} vkslm_chat_render_params;

/* Renders tmpl[0..len) for msgs; *out (malloc'd, NUL-terminated, the caller frees it) and *out_len. */
vkslm_status vkslm_chat_template_render(const char *tmpl, size_t len, const vkslm_chat_message *msgs, size_t n,
                                        const vkslm_chat_render_params *p, char **out, size_t *out_len);

/* A byte range of a rendering. */
typedef struct vkslm_chat_span {
    size_t off, len;
} vkslm_chat_span;

/* As vkslm_chat_template_render, and *content (malloc'd, NULL when *n_content is 0; the caller frees it)
 * gets the byte ranges of *out that came from the messages' content: in order, not overlapping, not
 * adjacent. A content byte is one copied from a vkslm_chat_message.content string, however it travelled:
 * through filters and methods (trim, upper, replace, split, slices, tojson, join, ...), concatenation,
 * variables, {% set %} blocks. Escapes that stand for a content byte (tojson's \" say) count as content;
 * text computed from content rather than copied (its length, a number parsed from it) does not. All the
 * rest (template literals, roles, bos_token, ...) is template text. content may be NULL. */
vkslm_status vkslm_chat_template_render_spans(const char *tmpl, size_t len, const vkslm_chat_message *msgs, size_t n,
                                              const vkslm_chat_render_params *p, char **out, size_t *out_len,
                                              vkslm_chat_span **content, size_t *n_content);

/* Tokenizes a rendering without BOS, control tokens recognised in the template's text and, only with
 * parse_special_in_content, in the content spans too (vkslm_chat_tokenize's second half). The whole text
 * is tokenized at once, so with no control-token text in the content the ids are vkslm_tokenize's
 * (add_special 0, parse_special 1). VKSLM_ERR_LIMIT (with *n_ids the count) when cap is too small. */
vkslm_status vkslm_chat_tokenize_rendering(const vkslm_tokenizer *tok, const char *text, size_t len,
                                           const vkslm_chat_span *content, size_t n_content,
                                           bool parse_special_in_content, int32_t *ids, size_t cap, size_t *n_ids);

/* The built-in template of a family name ("chatml", "llama3", "llama2", "mistral", "phi3", "gemma",
 * "deepseek"), or NULL. */
const char *vkslm_chat_family_template(const char *name);
/* The family whose markers a template contains, or NULL. */
const char *vkslm_chat_family_detect(const char *tmpl, size_t len);
/* The family names, separated by ", " (for messages). */
const char *vkslm_chat_family_names(void);
#endif
