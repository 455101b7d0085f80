/* vkslm bench --chart: a PNG with the decode time share of each op kind (bars labelled with the share
 * and GB/s) and decode's fraction of the memory roofline. Text comes from stb_easy_font, pixels go out
 * through stb_image_write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBIW_WINDOWS_UTF8
#include <stb_image_write.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-braces"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "bench.h"

#define W 900
#define SCALE 2

typedef struct canvas {
    int w, h;
    unsigned char *px; /* RGB */
} canvas;

static void rect(canvas *c, int x0, int y0, int x1, int y1, const unsigned char rgb[3]) {
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < c->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < c->w; x++)
            memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

/* Draws text at (x, y), scaled by SCALE, through stb_easy_font's quads. */
static void text(canvas *c, int x, int y, const char *s, const unsigned char rgb[3]) {
    static char quads[60000];
    int n = stb_easy_font_print(0, 0, (char *)s, NULL, quads, sizeof quads);
    for (int q = 0; q < n; q++) {
        const float *v = (const float *)(quads + q * 64); /* 4 vertices of 16 bytes: x, y, z, color */
        int x0 = (int)v[0], y0 = (int)v[1], x1 = (int)v[8], y1 = (int)v[9];
        rect(c, x + SCALE * x0, y + SCALE * y0, x + SCALE * x1, y + SCALE * y1, rgb);
    }
}

int bench_chart_png(const bench_result *r, const char *path) {
    static const unsigned char white[3] = {255, 255, 255}, black[3] = {20, 20, 20}, grey[3] = {200, 200, 200},
                               bar[3] = {66, 133, 244}, roof[3] = {52, 168, 83};
    int rows = (int)r->n_ops;
    canvas c = {W, 170 + 34 * rows, NULL};
    c.px = malloc((size_t)c.w * c.h * 3);
    if (!c.px)
        return 0;
    rect(&c, 0, 0, c.w, c.h, white);
    char line[640];
    snprintf(line, sizeof line, "%s %s on %s", r->model, r->type, r->device);
    text(&c, 16, 12, line, black);
    snprintf(line, sizeof line, "pp%u %.1f t/s   tg%u %.1f t/s   decode %.2f GB/s", r->p, r->pp_tps, r->n, r->tg_tps,
             r->decode_gbps);
    text(&c, 16, 40, line, black);
    /* the roofline fraction */
    int x0 = 240, x1 = W - 24, y = 76;
    text(&c, 16, y + 4, "roofline", black);
    rect(&c, x0, y, x1, y + 22, grey);
    double f = r->roofline_fraction > 1 ? 1 : r->roofline_fraction;
    rect(&c, x0, y, x0 + (int)((x1 - x0) * f + 0.5) + 1, y + 22, roof);
    snprintf(line, sizeof line, "%.2f%% of %.1f GB/s (%s)", 100.0 * r->roofline_fraction, r->roofline_gbps,
             r->roofline_kind ? r->roofline_kind : "");
    text(&c, x0 + 8, y + 4, line, black);
    /* one bar per op kind: share of decode GPU time */
    text(&c, 16, 120, "decode time per op", black);
    for (int i = 0; i < rows; i++) {
        const bench_op *o = &r->ops[i];
        int yy = 150 + 34 * i;
        text(&c, 16, yy + 4, o->label, black);
        rect(&c, x0, yy, x0 + (int)((x1 - x0) * o->share + 0.5) + 1, yy + 24, bar);
        snprintf(line, sizeof line, "%.1f%%  %.3f ms/tok  %.2f GB/s", 100.0 * o->share, o->ms_per_token, o->gbps);
        text(&c, x0 + 8, yy + 5, line, black);
    }
    int ok = stbi_write_png(path, c.w, c.h, 3, c.px, c.w * 3) != 0;
    free(c.px);
    return ok;
}
