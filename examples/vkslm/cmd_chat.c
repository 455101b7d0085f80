/* vkslm chat -m MODEL [options]: an interactive conversation through the model's chat template.
 *
 * Each turn renders the whole conversation with the template and tokenizes it (vkslm_chat_tokenize: control
 * tokens only from the template's own text, so a message cannot forge a turn); the tokens the session
 * already holds are kept as far as they agree with it (a common prefix: usually everything but the new
 * turn), the rest is fed, and the reply streams to stdout. Ctrl-C stops the reply, not the program;
 * /reset starts over, /exit (or end of input) ends. A template that fails exits with 1.
 * docs/cli.md describes it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vkslm.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vkslm chat -m MODEL.gguf [options]\n"
            "  -m, --model PATH      GGUF model\n"
            "  --template FILE|NAME  a Jinja chat template file, or a built-in one: chatml, llama3, llama2,\n"
            "                        mistral, phi3, gemma, deepseek (default: the model's own)\n"
            "  --system TEXT         a system message at the start of the conversation\n"
            "  -n, --n-predict N     at most N tokens per reply (default 0: until the model ends its turn)\n"
            "  --temp T              temperature (default 0.7); --top-k K, --top-p P, --min-p P (default 0.05)\n"
            "  --repeat-penalty R    (default 1: off); --seed S\n"
            "  --ctx N               context length (default min(4096, the model's))\n"
            "  --grammar FILE        every reply follows a grammar (docs/grammar.md)\n"
            "  --json-schema FILE    every reply is JSON valid against a schema (docs/grammar.md)\n"
            "  --drop-oldest         when the context is full, drop the oldest turns instead of stopping\n"
            "  --parse-special-in-content  control tokens (<|im_start|>, ...) typed in a message are control\n"
            "                        tokens too (default: plain text; only the template writes them)\n"
            "  --device D            Vulkan device index or name substring\n"
            CLI_LORA_HELP
            "In the conversation: /reset forgets it, /exit ends (so does end of input); Ctrl-C stops a reply.\n");
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static bool stream_piece(const char *piece, void *user) {
    (void)user;
    if (interrupted)
        return false;
    fputs(piece, stdout);
    fflush(stdout);
    return true;
}

typedef struct chat {
    vkslm_chat_message *msgs; /* role and content strings owned (malloc'd) */
    size_t n, cap;
    size_t n_fixed;           /* the system message, kept by /reset */
    const char *system;       /* folded into the first user message when the template refuses a system role */
    bool fold_system;
} chat;

static bool chat_push(chat *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        vkslm_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m)
            return false;
        c->msgs = m;
        c->cap = cap;
    }
    char *r = strdup(role), *t = strdup(content);
    if (!r || !t) {
        free(r);
        free(t);
        return false;
    }
    c->msgs[c->n].role = r;
    c->msgs[c->n].content = t;
    c->n++;
    return true;
}

static void chat_drop(chat *c, size_t from, size_t count) {
    for (size_t i = from; i < from + count; i++) {
        free((char *)c->msgs[i].role);
        free((char *)c->msgs[i].content);
    }
    memmove(c->msgs + from, c->msgs + from + count, (c->n - from - count) * sizeof *c->msgs);
    c->n -= count;
}

/* Renders the conversation through the template with a generation prompt and tokenizes it into
 * ids[0..cap) (*n_ids: the count); vkslm_chat_tokenize's status (VKSLM_ERR_LIMIT: more than cap ids). */
static vkslm_status chat_tokens(const vkslm_model *model, const char *tmpl, const chat *c, bool special_in_content,
                                int32_t *ids, size_t cap, size_t *n_ids) {
    vkslm_chat_message *m = c->msgs;
    size_t n = c->n;
    char *folded = NULL;
    vkslm_chat_message *copy = NULL;
    if (c->fold_system && c->n > c->n_fixed) { /* "SYSTEM\n\nfirst user message" */
        copy = malloc(n * sizeof *copy);
        size_t len = strlen(c->system) + strlen(m[c->n_fixed].content) + 3;
        folded = malloc(len);
        if (!copy || !folded) {
            free(copy);
            free(folded);
            return VKSLM_ERR_OUT_OF_HOST_MEMORY;
        }
        memcpy(copy, m, n * sizeof *copy);
        snprintf(folded, len, "%s\n\n%s", c->system, m[c->n_fixed].content);
        copy[c->n_fixed].content = folded;
        m = copy;
    }
    vkslm_status st = vkslm_chat_tokenize(model, tmpl, m, n, true, special_in_content, ids, cap, n_ids);
    free(copy);
    free(folded);
    return st;
}

/* Keeps the common prefix of the session's tokens held[0..*n_held) and ids[0..n) (rewinding the session
 * to it) and returns its length: ids from there on are still to be fed. */
static size_t keep_prefix(vkslm_session *s, size_t *n_held, const int32_t *held, const int32_t *ids, size_t n) {
    size_t k = 0, past = vkslm_session_n_past(s);
    if (*n_held > past)
        *n_held = past;
    while (k < *n_held && k < n && held[k] == ids[k])
        k++;
    if (k == n && n > 0)
        k = n - 1; /* feed at least one token so that fresh logits exist */
    if (k < past && vkslm_session_rewind(s, (uint32_t)k) != VKSLM_OK) {
        vkslm_session_rewind(s, 0);
        k = 0;
    }
    *n_held = k;
    return k;
}

static int parse_args(int argc, char **argv, const char **model_path, const char **tmpl_arg, const char **system,
                      bool *drop_oldest, bool *special_in_content, const char *grammar_files[2],
                      vkslm_model_params *mp, vkslm_session_params *sp, vkslm_generate_params *gp, cli_lora *lo) {
    const char *v;
    long lv;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_flag(a, "-h") || cli_flag(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model")))
            *model_path = v;
        else if ((v = cli_value(argc, argv, &i, "--template")))
            *tmpl_arg = v;
        else if ((v = cli_value(argc, argv, &i, "--system")))
            *system = v;
        else if ((v = cli_value(argc, argv, &i, "-n")) || (v = cli_value(argc, argv, &i, "--n-predict"))) {
            if (!cli_parse_long("chat", "-n", v, 0, 1 << 24, &lv))
                return 2;
            gp->max_tokens = (int32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--temp"))) {
            if (!cli_parse_float("chat", "--temp", v, 0, 100, &gp->temperature))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--top-k"))) {
            if (!cli_parse_long("chat", "--top-k", v, 0, 1 << 24, &lv))
                return 2;
            gp->top_k = (int32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--top-p"))) {
            if (!cli_parse_float("chat", "--top-p", v, 0, 1, &gp->top_p))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--min-p"))) {
            if (!cli_parse_float("chat", "--min-p", v, 0, 1, &gp->min_p))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--repeat-penalty"))) {
            if (!cli_parse_float("chat", "--repeat-penalty", v, 0, 100, &gp->repeat_penalty))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            char *end;
            gp->seed = strtoull(v, &end, 0);
            if (*end || end == v) {
                fprintf(stderr, "vkslm chat: --seed wants an integer, not '%s'\n", v);
                return 2;
            }
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            if (!cli_parse_long("chat", "--ctx", v, 1, 1 << 24, &lv))
                return 2;
            sp->n_ctx = (uint32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--device")))
            mp->device = v;
        else if ((v = cli_value(argc, argv, &i, "--grammar")))
            grammar_files[0] = v;
        else if ((v = cli_value(argc, argv, &i, "--json-schema")))
            grammar_files[1] = v;
        else if ((v = cli_value(argc, argv, &i, "--lora"))) {
            if (!cli_lora_parse("chat", v, lo))
                return 2;
        } else if (cli_flag(a, "--drop-oldest"))
            *drop_oldest = true;
        else if (cli_flag(a, "--parse-special-in-content"))
            *special_in_content = true;
        else if (!*model_path && a[0] != '-')
            *model_path = a;
        else {
            fprintf(stderr, "vkslm chat: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!*model_path) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cmd_chat(int argc, char **argv) {
    const char *model_path = NULL, *tmpl_arg = NULL, *system = NULL;
    bool drop_oldest = false, special_in_content = false;
    vkslm_model_params mp = vkslm_model_default_params();
    vkslm_session_params sp = vkslm_session_default_params();
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = 0;
    gp.temperature = 0.7f;
    gp.min_p = 0.05f;
    gp.on_token = stream_piece; /* BOS: the template writes it where the model wants it, as Hugging Face does */
    const char *grammar_files[2] = {NULL, NULL};
    cli_lora lo = {0};
    int rc = parse_args(argc, argv, &model_path, &tmpl_arg, &system, &drop_oldest, &special_in_content, grammar_files,
                        &mp, &sp, &gp, &lo);
    if (rc >= 0)
        return rc;
    char *grammar = NULL;
    if (!cli_load_grammar("chat", grammar_files[0], grammar_files[1], &grammar))
        return 2;
    gp.grammar = grammar;

    /* --template: a built-in name, else a file */
    char *tmpl_text = NULL;
    const char *tmpl = tmpl_arg;
    if (tmpl_arg && access(tmpl_arg, R_OK) == 0) {
        size_t len;
        if (!(tmpl = tmpl_text = cli_read_file("chat", tmpl_arg, &len))) {
            free(grammar);
            return 1;
        }
    } else if (tmpl_arg) {
        static const char *const names[] = {"chatml", "llama3", "llama2", "mistral", "phi3", "gemma", "deepseek"};
        bool known = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            known |= strcmp(tmpl_arg, names[i]) == 0;
        if (!known) {
            fprintf(stderr, "vkslm chat: --template %s: no such file, and not a built-in template (chatml, llama3, "
                            "llama2, mistral, phi3, gemma, deepseek)\n", tmpl_arg);
            free(grammar);
            return 2;
        }
    }

    mp.progress = cli_progress;
    vkslm_model *model = NULL;
    vkslm_session *session = NULL;
    int32_t *ids = NULL, *held = NULL;
    size_t n_held = 0;
    char *line = NULL;
    size_t line_cap = 0;
    chat c = {0};
    rc = 1;
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &session);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm chat: %s\n", vkslm_last_error());
        goto done;
    }
    if (!cli_lora_attach("chat", model, session, 1, &lo))
        goto done;
    uint32_t n_ctx = vkslm_session_n_ctx(session);
    ids = malloc(((size_t)n_ctx + 1) * sizeof *ids);
    held = malloc(((size_t)n_ctx + 1) * sizeof *held);
    if (!ids || !held) {
        fprintf(stderr, "vkslm chat: out of memory\n");
        goto done;
    }

    /* a first rendering tells whether the template works, and whether it takes a system message */
    if (system) {
        if (!chat_push(&c, "system", system))
            goto done;
        c.n_fixed = 1;
    }
    if (!chat_push(&c, "user", "Hello"))
        goto done;
    size_t probe_n;
    st = vkslm_chat_tokenize(model, tmpl, c.msgs, c.n, true, special_in_content, NULL, 0, &probe_n);
    if (st == VKSLM_ERR_INVALID_ARG && system) {
        fprintf(stderr, "vkslm chat: %s\nvkslm chat: the system text goes in front of the first user message "
                        "instead\n", vkslm_last_error());
        chat_drop(&c, 0, 1);
        c.n_fixed = 0;
        c.system = system;
        c.fold_system = true;
        st = vkslm_chat_tokenize(model, tmpl, c.msgs, c.n, true, special_in_content, NULL, 0, &probe_n);
    }
    if (st != VKSLM_ERR_LIMIT) { /* LIMIT: there are tokens (a zero-capacity buffer cannot take them) */
        fprintf(stderr, "vkslm chat: %s\n", st == VKSLM_OK ? "the template renders nothing" : vkslm_last_error());
        goto done;
    }
    chat_drop(&c, c.n - 1, 1);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    bool tty = isatty(STDIN_FILENO);
    if (tty)
        fprintf(stderr, "vkslm chat: %s on %s, context %u tokens. /reset forgets the conversation, /exit ends, "
                        "Ctrl-C stops a reply.\n", vkslm_model_arch(model), vkslm_model_device_name(model), n_ctx);
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        interrupted = 0;
        ssize_t got = getline(&line, &line_cap, stdin);
        if (got < 0)
            break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (got == 0)
            continue;
        if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0)
            break;
        if (strcmp(line, "/reset") == 0) {
            chat_drop(&c, c.n_fixed, c.n - c.n_fixed);
            vkslm_session_rewind(session, 0);
            n_held = 0;
            fprintf(stderr, "(the conversation is forgotten)\n");
            continue;
        }
        if (!chat_push(&c, "user", line))
            goto done;
        size_t n_ids = 0;
        bool fits = false;
        for (;;) { /* render and tokenize; drop the oldest turns while it does not fit (when asked to) */
            st = chat_tokens(model, tmpl, &c, special_in_content, ids, (size_t)n_ctx + 1, &n_ids);
            if (st == VKSLM_OK && n_ids < n_ctx) {
                fits = true;
                break;
            }
            if (st != VKSLM_OK && st != VKSLM_ERR_LIMIT) { /* the template failed: no use going on */
                fprintf(stderr, "vkslm chat: %s\n",
                        st == VKSLM_ERR_OUT_OF_HOST_MEMORY ? "out of host memory" : vkslm_last_error());
                goto done;
            }
            if (drop_oldest && c.n - c.n_fixed > 1) {
                chat_drop(&c, c.n_fixed, c.n - c.n_fixed >= 3 ? 2 : 1); /* one user turn and its reply */
                fprintf(stderr, "(the context is full: the oldest turn is dropped)\n");
                continue;
            }
            fprintf(stderr, "vkslm chat: the conversation no longer fits the context of %u tokens; /reset to start "
                            "over (or run with --drop-oldest)\n", n_ctx);
            chat_drop(&c, c.n - 1, 1);
            break;
        }
        if (!fits)
            continue;
        size_t k = keep_prefix(session, &n_held, held, ids, n_ids);
        vkslm_generate_result r;
        st = vkslm_generate_tokens(session, ids + k, n_ids - k, &gp, &r);
        if (st != VKSLM_OK) {
            fprintf(stderr, "\nvkslm chat: %s\n", vkslm_last_error());
            vkslm_session_rewind(session, 0);
            n_held = 0;
            chat_drop(&c, c.n - 1, 1);
            continue;
        }
        memcpy(held, ids, n_ids * sizeof *ids);
        n_held = n_ids;
        for (size_t i = 0; i < r.n_tokens && n_held < n_ctx; i++)
            held[n_held++] = r.tokens[i];
        fputc('\n', stdout);
        fflush(stdout);
        if (r.stop_reason == VKSLM_STOP_CALLBACK)
            fprintf(stderr, "(stopped)\n");
        else if (r.stop_reason == VKSLM_STOP_CONTEXT)
            fprintf(stderr, "(the context of %u tokens is full: /reset to start over%s)\n", n_ctx,
                    drop_oldest ? "; the oldest turns go with the next message" : ", or run with --drop-oldest");
        if (!chat_push(&c, "assistant", r.text))
            goto done;
    }
    rc = 0;
done:
    free(line);
    chat_drop(&c, 0, c.n);
    free(c.msgs);
    free(ids);
    free(held);
    free(tmpl_text);
    free(grammar);
    vkslm_session_free(session);
    cli_lora_free(&lo);
    vkslm_model_free(model);
    return rc;
}
