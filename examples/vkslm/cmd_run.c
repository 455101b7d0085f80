/* vkslm run -m MODEL -p PROMPT [options]: generates a continuation, streamed to stdout, or one JSON
 * object with --json. docs/cli.md lists the options and keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "vkslm.h"

#define MAX_STOP 16

static void usage(FILE *f) {
    fprintf(f,
            "usage: vkslm run -m MODEL.gguf -p PROMPT [options]\n"
            "  -m, --model PATH      GGUF model\n"
            "  -p, --prompt TEXT     the prompt (-f FILE reads it from a file)\n"
            "  -n, --n-predict N     tokens to generate (default 128; 0: until the context is full)\n"
            "  --temp T              temperature (default 0: greedy)\n"
            "  --top-k K, --top-p P, --min-p P   truncation (default off)\n"
            "  --repeat-penalty R, --frequency-penalty F, --presence-penalty P, --penalty-last-n N\n"
            "  --seed S              sampling seed (default 0)\n"
            "  --stop TEXT           stop string (repeatable)\n"
            "  --grammar FILE        constrain the output to a grammar (docs/grammar.md)\n"
            "  --json-schema FILE    constrain the output to JSON valid against a schema (docs/grammar.md)\n"
            "  --ctx N               context length (default min(4096, the model's))\n"
            "  --batch N             prompt tokens per prefill step (default 64)\n"
            "  --device D            Vulkan device index or name substring\n"
            CLI_LORA_HELP
            "  --no-bos              never add BOS; --parse-special: control tokens in the prompt\n"
            "  --json                print one JSON object instead of streaming text\n"
            "  --dump-logits FILE    write the logits at the last prompt position (n_vocab float32 LE)\n");
}

static bool stream_piece(const char *piece, void *user) {
    (void)user;
    fputs(piece, stdout);
    fflush(stdout);
    return true;
}

static void print_ids(const int32_t *ids, size_t n) {
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", ids[i]);
    putchar(']');
}

int cmd_run(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *prompt_file = NULL, *dump = NULL, *v;
    const char *grammar_file = NULL, *schema_file = NULL;
    const char *stops[MAX_STOP];
    size_t n_stop = 0;
    int json = 0;
    long lv;
    cli_lora lo = {0};
    vkslm_model_params mp = vkslm_model_default_params();
    vkslm_session_params sp = vkslm_session_default_params();
    vkslm_generate_params gp = vkslm_generate_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_flag(a, "-h") || cli_flag(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((v = cli_value(argc, argv, &i, "-m")) || (v = cli_value(argc, argv, &i, "--model")))
            model_path = v;
        else if ((v = cli_value(argc, argv, &i, "-p")) || (v = cli_value(argc, argv, &i, "--prompt")))
            prompt = v;
        else if ((v = cli_value(argc, argv, &i, "-f")) || (v = cli_value(argc, argv, &i, "--file")))
            prompt_file = v;
        else if ((v = cli_value(argc, argv, &i, "-n")) || (v = cli_value(argc, argv, &i, "--n-predict"))) {
            if (!cli_parse_long("run", "-n", v, 0, 1 << 24, &lv))
                return 2;
            gp.max_tokens = (int32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--temp"))) {
            if (!cli_parse_float("run", "--temp", v, 0, 100, &gp.temperature))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--top-k"))) {
            if (!cli_parse_long("run", "--top-k", v, 0, 1 << 24, &lv))
                return 2;
            gp.top_k = (int32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--top-p"))) {
            if (!cli_parse_float("run", "--top-p", v, 0, 1, &gp.top_p))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--min-p"))) {
            if (!cli_parse_float("run", "--min-p", v, 0, 1, &gp.min_p))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--repeat-penalty"))) {
            if (!cli_parse_float("run", "--repeat-penalty", v, 0, 100, &gp.repeat_penalty))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--frequency-penalty"))) {
            if (!cli_parse_float("run", "--frequency-penalty", v, -100, 100, &gp.frequency_penalty))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--presence-penalty"))) {
            if (!cli_parse_float("run", "--presence-penalty", v, -100, 100, &gp.presence_penalty))
                return 2;
        } else if ((v = cli_value(argc, argv, &i, "--penalty-last-n"))) {
            if (!cli_parse_long("run", "--penalty-last-n", v, -1, 1 << 20, &lv))
                return 2;
            gp.penalty_last_n = (int32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--seed"))) {
            char *end;
            gp.seed = strtoull(v, &end, 0);
            if (*end || end == v) {
                fprintf(stderr, "vkslm run: --seed wants an integer, not '%s'\n", v);
                return 2;
            }
        } else if ((v = cli_value(argc, argv, &i, "--stop"))) {
            if (n_stop == MAX_STOP) {
                fprintf(stderr, "vkslm run: at most %d stop strings\n", MAX_STOP);
                return 2;
            }
            stops[n_stop++] = v;
        } else if ((v = cli_value(argc, argv, &i, "--ctx"))) {
            if (!cli_parse_long("run", "--ctx", v, 1, 1 << 24, &lv))
                return 2;
            sp.n_ctx = (uint32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--batch"))) {
            if (!cli_parse_long("run", "--batch", v, 1, 4096, &lv))
                return 2;
            sp.n_batch = (uint32_t)lv;
        } else if ((v = cli_value(argc, argv, &i, "--device")))
            mp.device = v;
        else if ((v = cli_value(argc, argv, &i, "--dump-logits")))
            dump = v;
        else if ((v = cli_value(argc, argv, &i, "--lora"))) {
            if (!cli_lora_parse("run", v, &lo)) {
                cli_lora_free(&lo);
                return 2;
            }
        }
        else if ((v = cli_value(argc, argv, &i, "--grammar")))
            grammar_file = v;
        else if ((v = cli_value(argc, argv, &i, "--json-schema")))
            schema_file = v;
        else if (cli_flag(a, "--json"))
            json = 1;
        else if (cli_flag(a, "--no-bos"))
            gp.add_bos = 0;
        else if (cli_flag(a, "--parse-special"))
            gp.parse_special = true;
        else if (!model_path && a[0] != '-')
            model_path = a;
        else {
            fprintf(stderr, "vkslm run: unknown option '%s'\n", a);
            usage(stderr);
            cli_lora_free(&lo);
            return 2;
        }
    }
    if (!model_path || (!prompt && !prompt_file)) {
        usage(stderr);
        cli_lora_free(&lo);
        return 2;
    }
    char *grammar = NULL;
    if (!cli_load_grammar("run", grammar_file, schema_file, &grammar)) {
        cli_lora_free(&lo);
        return 2;
    }
    char *file_text = NULL;
    size_t file_len;
    if (prompt_file && !(prompt = file_text = cli_read_file("run", prompt_file, &file_len))) {
        free(grammar);
        cli_lora_free(&lo);
        return 1;
    }
    gp.grammar = grammar;
    gp.stop = stops;
    gp.n_stop = n_stop;
    gp.on_token = json ? NULL : stream_piece;
    mp.progress = cli_progress;

    int rc = 1;
    vkslm_model *model = NULL;
    vkslm_session *session = NULL;
    double t0 = cli_now_ms();
    vkslm_status st = vkslm_model_load(model_path, &mp, &model);
    double load_ms = cli_now_ms() - t0;
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, &sp, &session);
    if (st != VKSLM_OK) {
        fprintf(stderr, "vkslm run: %s\n", vkslm_last_error());
        goto done;
    }
    if (!cli_lora_attach("run", model, session, 1, &lo))
        goto done;
    vkslm_generate_result r;
    if (dump) {
        /* the logits at the last prompt position: feed the prompt first, then generate from there */
        int32_t *ids = malloc((strlen(prompt) + 8) * sizeof *ids);
        size_t n_ids = 0;
        st = ids ? vkslm_model_tokenize(model, prompt, strlen(prompt), gp.add_bos, gp.parse_special, ids,
                                        strlen(prompt) + 8, &n_ids)
                 : VKSLM_ERR_OUT_OF_HOST_MEMORY;
        if (st == VKSLM_OK && n_ids > vkslm_session_n_ctx(session))
            st = VKSLM_ERR_LIMIT;
        if (st == VKSLM_OK && n_ids)
            st = vkslm_session_eval(session, ids, n_ids);
        free(ids);
        const float *logits = st == VKSLM_OK ? vkslm_session_logits(session) : NULL;
        FILE *f = logits ? fopen(dump, "wb") : NULL;
        if (!f || fwrite(logits, sizeof(float), (size_t)vkslm_model_n_vocab(model), f) !=
                      (size_t)vkslm_model_n_vocab(model)) {
            fprintf(stderr, "vkslm run: --dump-logits %s: %s\n", dump,
                    st != VKSLM_OK ? vkslm_last_error() : "cannot write the file");
            if (f)
                fclose(f);
            goto done;
        }
        fclose(f);
        vkslm_session_rewind(session, 0);
    }
    st = vkslm_generate(session, prompt, &gp, &r);
    if (st != VKSLM_OK) {
        fprintf(stderr, "\nvkslm run: %s\n", vkslm_last_error());
        goto done;
    }
    if (json) {
        printf("{\"prompt_tokens\": ");
        print_ids(r.prompt_tokens, r.n_prompt_tokens);
        printf(", \"tokens\": ");
        print_ids(r.tokens, r.n_tokens);
        printf(", \"text\": ");
        json_str(stdout, r.text, r.text_len);
        printf(", \"stop_reason\": \"%s\", \"timings\": {\"load_ms\": ", vkslm_stop_reason_str(r.stop_reason));
        json_num(stdout, load_ms);
        printf(", \"prefill_ms\": ");
        json_num(stdout, r.prefill_ms);
        printf(", \"decode_ms\": ");
        json_num(stdout, r.decode_ms);
        printf(", \"pp_tps\": ");
        json_num(stdout, r.pp_tps);
        printf(", \"tg_tps\": ");
        json_num(stdout, r.tg_tps);
        printf("}}\n");
    } else {
        printf("\n");
        fprintf(stderr, "[%s; prompt %zu tokens at %.1f tok/s, generated %zu at %.1f tok/s, load %.0f ms, %s]\n",
                vkslm_stop_reason_str(r.stop_reason), r.n_prompt_tokens, r.pp_tps, r.n_tokens, r.tg_tps, load_ms,
                vkslm_model_device_name(model));
    }
    rc = 0;
done:
    vkslm_session_free(session);
    cli_lora_free(&lo);
    vkslm_model_free(model);
    free(file_text);
    free(grammar);
    return rc;
}
