/* The vkslm command-line tool: one file per command (cmd_<name>.c), dispatched from main.c. */
#ifndef VKSLM_CLI_H
#define VKSLM_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_mkmodel_lora(int argc, char **argv); /* mkmodel --lora-of (cmd_lora.c) */
int cmd_lora_merge(int argc, char **argv);

/* Shared option helpers (main.c). */
int cli_flag(const char *arg, const char *name);                 /* arg == name */
const char *cli_value(int argc, char **argv, int *i, const char *name); /* "--x V" or "--x=V" */

/* cli_util.c */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* The whole file ('-': stdin), NUL-terminated, malloc'd; NULL after a message on stderr. */
char *cli_read_file(const char *cmd, const char *path, size_t *len);
/* Parses a number in [lo, hi]; 0 after a message on stderr. */
int cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out);
/* The grammar of --grammar FILE or --json-schema FILE (run, chat; at most one of them: both is an error):
 * *out gets the grammar text (a schema compiled to its grammar), malloc'd, or NULL when neither was given.
 * False after a message on stderr (an unreadable file, a schema outside the supported subset). */
bool cli_load_grammar(const char *cmd, const char *grammar_file, const char *schema_file, char **out);
/* Loading progress on stderr when it is a terminal (a vkslm_progress_fn). */
bool cli_progress(float fraction, void *user);
/* A monotonic wall clock, in milliseconds (for timings). */
double cli_now_ms(void);
/* log softmax(logits)[id] of one row of n, in double: the log-probability of token id. */
double cli_log_softmax_at(const float *logits, size_t n, size_t id);

/* cli_lora.c: --lora PATH[:SCALE], repeatable (zero-initialise; free with cli_lora_free). */
#include "vkslm.h"
#define CLI_LORA_MAX VKSLM_LORA_MAX_PER_SEQ
#define CLI_LORA_HELP "  --lora PATH[:SCALE]   apply a LoRA adapter (GGUF) at SCALE (default 1); repeatable\n"
typedef struct cli_lora {
    int n;
    char path[CLI_LORA_MAX][1024];
    float scale[CLI_LORA_MAX];
    vkslm_lora *lora[CLI_LORA_MAX];
} cli_lora;
/* Adds one --lora value; 0 after a message on stderr. */
int cli_lora_parse(const char *cmd, const char *arg, cli_lora *o);
/* Loads the adapters not loaded yet onto m; 0 after a message. */
int cli_lora_load(const char *cmd, vkslm_model *m, cli_lora *o);
/* Loads the adapters onto m (once) and selects all of them for sequences 0 .. n_seq - 1 of s; 0 after a
 * message. */
int cli_lora_attach(const char *cmd, vkslm_model *m, vkslm_session *s, uint32_t n_seq, cli_lora *o);
/* bench: sequence q of s (q < n_seq) selects the loaded adapter q mod n alone; 0 after a message. */
int cli_lora_spread(const char *cmd, vkslm_session *s, uint32_t n_seq, const cli_lora *o);
/* Device bytes of the loaded adapters. */
uint64_t cli_lora_bytes(const cli_lora *o);
/* Frees the loaded adapters (after every session that selects them); the paths stay for another load. */
void cli_lora_free(cli_lora *o);
#endif
