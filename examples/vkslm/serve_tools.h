/* vkslm serve: tool calling (serve_tools.c). The request's tools, tool_choice and parallel_tool_calls, the
 * messages' tool calls and results, the conversation as JSON for the chat template, the call syntax of the
 * template in use, the model's output parsed into OpenAI's message.tool_calls (whole or streamed), and the
 * grammar that forces a call for tool_choice required or a named function. serve_complete.c calls these in
 * a few lines each. */
#ifndef VKSLM_CLI_SERVE_TOOLS_H
#define VKSLM_CLI_SERVE_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "serve.h" /* SERVE_MAX_TOOLS, SERVE_MAX_SCHEMA_BYTES (of all the tools' schemas together) */

struct cJSON;

/* The call syntaxes, chosen by the template's text (serve_tools_format). */
typedef enum serve_tool_format {
    SERVE_TOOLS_HERMES,  /* <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call> (Qwen 2.5, Hermes, and
                          * templates that take tools and show none of the other markers) */
    SERVE_TOOLS_LLAMA3,  /* {"name": ..., "parameters": {...}} as the whole answer, <|python_tag|> optional */
    SERVE_TOOLS_MISTRAL, /* [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] */
} serve_tool_format;

enum { SERVE_TOOL_CHOICE_AUTO, SERVE_TOOL_CHOICE_NONE, SERVE_TOOL_CHOICE_REQUIRED, SERVE_TOOL_CHOICE_NAMED };

typedef struct serve_tools serve_tools;

/* Reads a chat request's tools, tool_choice and parallel_tool_calls (serve_request.c's table refuses them on
 * /v1/completions, and functions / function_call, OpenAI's deprecated form, everywhere). *out: NULL when the
 * request uses no tools and no message carries tool calls or results (the plain path), else the state
 * (serve_tools_free). NULL on success, else the message of a 400 with *param the key. */
const char *serve_tools_parse(const struct cJSON *root, serve_tools **out, const char **param);
void serve_tools_free(serve_tools *t);
/* A message's tool keys: an assistant's tool_calls, a tool result's tool_call_id, a name. NULL when they are
 * right, else the message of a 400; *content_optional: the message may leave out content (it has calls). */
const char *serve_tools_check_message(const struct cJSON *msg, bool *content_optional);

/* The format the template's text asks for. */
serve_tool_format serve_tools_format(const char *tmpl, size_t len);

/* The JSON the template reads: messages (msgs[i].content the joined text or NULL; request_msgs the request's
 * array, whose tool keys are copied; a configured system prompt may come first, n_extra messages of msgs
 * without a request counterpart) and tools (NULL: none; tool_choice none renders no tools). Arguments of
 * past calls become objects when the template writes them with tojson (Qwen, Llama, Mistral), as
 * transformers passes them. Sets the call syntax from the template text. malloc'd strings; -1 on OOM. */
int serve_tools_template_json(serve_tools *t, const struct cJSON *request_msgs, const vkslm_chat_message *msgs,
                              size_t n_msgs, size_t n_extra, const char *tmpl, size_t tmpl_len, char **messages_json,
                              char **tools_json);

/* The grammar that forces the call syntax around the function's parameter schema for tool_choice required
 * or a named function (malloc'd; its start rule is "root", each function's schema rules are renamed fI-...),
 * NULL when the output is not constrained (auto, none). On an error, NULL
 * with *err set (a schema the grammar compiler refuses: a 400). */
char *serve_tools_grammar(const serve_tools *t, char *err, size_t cap);
/* As serve_tools_grammar, from schema grammars already compiled (schema_grammars[i]: the grammar of
 * function i's parameters, root rule "root"; NULL for the functions not allowed). Exposed for the tests. */
char *serve_tools_compose_grammar(serve_tool_format format, const char *const *names,
                                  const char *const *schema_grammars, size_t n, bool parallel);

/* Whether the output is constrained to a call (tool_choice required or a named function). */
bool serve_tools_forced(const serve_tools *t);
/* Whether the model's output is to be parsed for calls (tools given and tool_choice not none). */
bool serve_tools_active(const serve_tools *t);
/* The model's whole output -> OpenAI's tool_calls array (NULL: no call: the output is text); *content gets
 * the text outside the calls (malloc'd, NULL when there is none). */
struct cJSON *serve_tools_parse_output(const serve_tools *t, const char *text, char **content);
/* The same parser with its settings spelled out (the tests call it on strings): names of the allowed
 * functions (NULL, 0: any), parallel false keeps the first call; id_seed makes the call ids. */
struct cJSON *serve_tools_parse_text(serve_tool_format format, const char *text, const char *const *names,
                                     size_t n_names, bool parallel, unsigned long long id_seed, char **content);

/* Streaming: each piece goes through feed, which returns the text that can be sent as content now (malloc'd,
 * possibly empty) and holds back what may begin a call. finish returns the calls (as serve_tools_parse_output)
 * or NULL, and *rest the held-back text to send as content then. */
char *serve_tools_stream_feed(serve_tools *t, const char *piece);
struct cJSON *serve_tools_stream_finish(serve_tools *t, char **rest);
#endif
