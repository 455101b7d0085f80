/* CPU time of recording one decode step (the graph and every op's dispatch: checks, kernel lookup,
 * binding, push constants; no submit), recorded again and again into one session's recording: the median
 * and the quartiles over the repetitions, in microseconds of this thread's CPU clock. Not a test: it
 * measures. (vkslm bench's decode_record_us measures the same inside real decoding, where the device's
 * work between steps leaves the caches cold.)
 *   vkslm_bench_record MODEL.gguf [-n repetitions (2000)] [-p position (5)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/util/clock.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: vkslm_bench_record MODEL.gguf [-n repetitions] [-p position]\n");
        return 2;
    }
    int reps = 2000;
    uint32_t p0 = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-p"))
            p0 = (uint32_t)atoi(argv[i + 1]);
    }
    if (reps < 1)
        reps = 1;
    vkslm_model_params mp = vkslm_model_default_params();
    vkslm_model *m;
    vkslm_session_dev *s;
    if (vkslm_model_load(argv[1], &mp, &m) != VKSLM_OK ||
        vkslm_session_dev_create(m->vk, m->dev, p0 + 8, 1, VKSLM_TYPE_F16, &s) != VKSLM_OK) {
        fprintf(stderr, "vkslm_bench_record: %s\n", vkslm_last_error());
        return 1;
    }
    int32_t token = 1, next;
    double *us = malloc((size_t)reps * sizeof *us);
    if (!us || vkslm_session_dev_eval(s, &token, 1, VKSLM_GRAPH_ARGMAX, &next) != VKSLM_OK) /* warm */
        return 1;
    vkslm_graph_run run = {0, 0, 1, p0};
    uint32_t row = 0;
    vkslm_graph_step step = {&token, 1, &run, 1, &row, 1, 1, NULL, 0};
    for (int i = 0; i < reps; i++) {
        double t0 = vkslm_thread_cpu_ms();
        if (vkslm_cmd_begin(s->cmd) != VKSLM_OK || vkslm_graph_record(s->cmd, m->dev, &s->b, &step) != VKSLM_OK) {
            fprintf(stderr, "vkslm_bench_record: %s\n", vkslm_last_error());
            return 1;
        }
        us[i] = (vkslm_thread_cpu_ms() - t0) * 1e3;
    }
    qsort(us, (size_t)reps, sizeof *us, cmp_double);
    printf("recording one decode step: median %.1f us, quartiles %.1f / %.1f us (%d repetitions, %s)\n",
           us[reps / 2], us[reps / 4], us[3 * reps / 4], reps, vkslm_vk_get_caps(m->vk)->name);
    free(us);
    vkslm_session_dev_free(s);
    vkslm_model_free(m);
    return 0;
}
