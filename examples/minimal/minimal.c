/* The smallest useful vkslm program: load a GGUF model, stream a continuation of a prompt.
 *   vkslm-minimal MODEL.gguf "Once upon a time" [N_TOKENS]
 * Uses only the public header; build it elsewhere with: cc minimal.c $(pkg-config --cflags --libs vkslm) */
#include <stdio.h>
#include <stdlib.h>

#include <vkslm.h>

static bool print_piece(const char *piece, void *user_data) {
    (void)user_data;
    fputs(piece, stdout);
    fflush(stdout);
    return true; /* false would stop the generation */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT [N_TOKENS]\n", argv[0]);
        return 2;
    }
    vkslm_model *model = NULL;
    vkslm_session *session = NULL;
    if (vkslm_model_load(argv[1], NULL, &model) != VKSLM_OK ||
        vkslm_session_create(model, NULL, &session) != VKSLM_OK) {
        fprintf(stderr, "error: %s\n", vkslm_last_error());
        vkslm_model_free(model);
        return 1;
    }
    vkslm_generate_params params = vkslm_generate_default_params();
    params.max_tokens = argc > 3 ? atoi(argv[3]) : 64;
    params.temperature = 0.7f;
    params.top_p = 0.9f;
    params.on_token = print_piece;

    vkslm_generate_result result;
    fputs(argv[2], stdout);
    vkslm_status status = vkslm_generate(session, argv[2], &params, &result);
    if (status != VKSLM_OK)
        fprintf(stderr, "\nerror: %s\n", vkslm_last_error());
    else
        fprintf(stderr, "\n[%zu tokens, stopped by %s, %.1f tokens/s on %s]\n", result.n_tokens,
                vkslm_stop_reason_str(result.stop_reason), result.tg_tps, vkslm_model_device_name(model));
    vkslm_session_free(session);
    vkslm_model_free(model);
    return status == VKSLM_OK ? 0 : 1;
}
