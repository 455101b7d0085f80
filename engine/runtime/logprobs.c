/* Log-probabilities of generated tokens (vkslm_generate_params.logprobs): the log-softmax of a row of raw
 * logits, in double, and its most likely tokens. One pass for the maximum and the top list, one for the sum. */
#include <math.h>
#include <string.h>

#include "engine/runtime/api_internal.h"

void vkslm_logprobs_fill(const float *logits, uint32_t n_vocab, int32_t token, int32_t n_top,
                         vkslm_token_logprobs *out) {
    memset(out, 0, sizeof *out);
    out->token = token;
    if (n_top > VKSLM_MAX_TOP_LOGPROBS)
        n_top = VKSLM_MAX_TOP_LOGPROBS;
    float max = -INFINITY;
    int32_t k = 0;
    for (uint32_t i = 0; i < n_vocab; i++) {
        float l = logits[i];
        if (!(l > -INFINITY)) /* NaN counts as -inf, and -inf is never a top entry */
            continue;
        if (l > max)
            max = l;
        if (n_top == 0 || (k == n_top && !(l > out->top_logprobs[k - 1])))
            continue;
        int32_t j = k < n_top ? k++ : k - 1; /* insertion: best first, ties stay in id order */
        while (j > 0 && l > out->top_logprobs[j - 1]) {
            out->top_ids[j] = out->top_ids[j - 1];
            out->top_logprobs[j] = out->top_logprobs[j - 1];
            j--;
        }
        out->top_ids[j] = (int32_t)i;
        out->top_logprobs[j] = l;
    }
    double sum = 0;
    if (max > -INFINITY)
        for (uint32_t i = 0; i < n_vocab; i++)
            if (logits[i] > -INFINITY)
                sum += exp((double)logits[i] - (double)max);
    double lse = max > -INFINITY ? (double)max + log(sum) : INFINITY;
    out->n_top = k;
    for (int32_t j = 0; j < k; j++)
        out->top_logprobs[j] = (float)((double)out->top_logprobs[j] - lse);
    float lt = token >= 0 && (uint32_t)token < n_vocab ? logits[token] : -INFINITY;
    out->logprob = lt > -INFINITY ? (float)((double)lt - lse) : -INFINITY;
}
