/* vkslm serve: the body of a chat or completions request, parsed and checked (serve_request.c).
 * Every key OpenAI's two APIs know has one entry in a table (serve_request_keys) saying, for each endpoint,
 * whether it is implemented (its parse hook reads it into the request), accepted as metadata and ignored,
 * or refused with 400; a key in no entry is refused as unknown. A feature becomes implemented by giving its
 * entry a parse hook and flipping its treatment: nothing is accepted and silently ignored. */
#ifndef VKSLM_CLI_SERVE_REQUEST_H
#define VKSLM_CLI_SERVE_REQUEST_H

#include <stddef.h>

#include "serve.h"
#include "serve_sampling.h"
#include "serve_tools.h"

struct cJSON;

typedef struct request {
    int chat;
    const char *model;           /* requested expert or "auto" */
    int stream;
    vkslm_chat_message *msgs;    /* chat */
    char **owned;                /* message texts joined from content parts */
    size_t n_msgs, n_owned;
    const char *prompt;          /* completions */
    char *route_text;            /* what the router reads */
    vkslm_generate_params gp;
    unsigned set;                /* bit k: sampling knob k was in the request (the others take the expert's) */
    const char *stop[SERVE_MAX_STOP];
    const char *param;           /* the key a 400 is about */
    const char *code;            /* the error code of a 400 ("invalid_request" unless a hook says otherwise) */
    serve_sampling ss;           /* n, logprobs, logit_bias, stream_options, echo (serve_sampling.c) */
    char *grammar;               /* of response_format (serve_format.c), or NULL; gp.grammar points at it */
    char why[512];               /* a hook's 400 message when it is not a constant */
    serve_tools *tools;          /* tool calling (serve_tools.c); NULL: the request uses none */
    char *tool_grammar;          /* the grammar that forces a tool call; NULL: none */
} request;

/* How an endpoint treats a key. */
typedef enum serve_key_use {
    SERVE_KEY_IMPLEMENTED, /* the parse hook reads it */
    SERVE_KEY_METADATA,    /* accepted and ignored (the hook, if any, only checks the value) */
    SERVE_KEY_REJECTED     /* 400 unsupported_parameter (a value equal to `off` is accepted: it asks for nothing) */
} serve_key_use;

/* Reads value (never JSON null: null counts as absent) into q; NULL when fine, else the message of a 400
 * (q->param is the key unless the hook names another; q->code may be set). */
typedef const char *(*serve_key_parse)(const char *key, const struct cJSON *value, request *q);

typedef struct serve_request_key {
    const char *key;
    serve_key_use chat, completions;
    serve_key_parse parse;
    const char *off; /* rejected keys: the JSON of the value that asks for nothing ("false"), or NULL */
} serve_request_key;

/* The table, ended by an entry whose key is NULL (docs/cli.md lists it). */
extern const serve_request_key serve_request_keys[];
/* The keys of a chat message, as above (SERVE_KEY_IMPLEMENTED: read by parse_messages). */
extern const serve_request_key serve_message_keys[];

/* Parses the body into q (q->chat says which endpoint); NULL on success, else what is wrong (for a 400;
 * q->param names the key, q->code the error code). Sampling keys the request leaves out are not set
 * (serve_request_apply_defaults does, once the expert is known). */
const char *serve_request_parse(const struct cJSON *root, request *q);
/* The expert's defaults for the sampling keys the request left out. */
void serve_request_apply_defaults(request *q, const vkslm_generate_params *def);
void serve_request_free(request *q);
#endif
