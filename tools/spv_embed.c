/* spv_embed: turns one SPIR-V binary into a C source file holding it as a uint32_t array.
 * usage: vkslm_spv_embed IN.spv NAME OUT.c   (defines vkslm_spv_NAME and vkslm_spv_NAME_size) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s IN.spv NAME OUT.c\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    fseek(in, 0, SEEK_SET);
    if (n <= 0 || n % 4 != 0) {
        fprintf(stderr, "%s: size %ld is not a positive multiple of 4\n", argv[1], n);
        fclose(in);
        return 1;
    }
    uint32_t *words = malloc((size_t)n);
    if (!words || fread(words, 1, (size_t)n, in) != (size_t)n) {
        fprintf(stderr, "%s: read failed\n", argv[1]);
        fclose(in);
        free(words);
        return 1;
    }
    fclose(in);
    if (words[0] != 0x07230203u) {
        fprintf(stderr, "%s: not SPIR-V (bad magic)\n", argv[1]);
        free(words);
        return 1;
    }
    FILE *out = fopen(argv[3], "w");
    if (!out) {
        perror(argv[3]);
        free(words);
        return 1;
    }
    size_t count = (size_t)n / 4;
    fprintf(out, "/* generated from %s: do not edit */\n#include <stddef.h>\n#include <stdint.h>\n", argv[1]);
    fprintf(out, "const size_t vkslm_spv_%s_size = %zu;\n", argv[2], (size_t)n);
    fprintf(out, "const uint32_t vkslm_spv_%s[%zu] = {", argv[2], count);
    for (size_t i = 0; i < count; i++)
        fprintf(out, "%s0x%08xu,", i % 8 ? " " : "\n  ", words[i]);
    fprintf(out, "\n};\n");
    free(words);
    if (fclose(out) != 0) {
        perror(argv[3]);
        return 1;
    }
    return 0;
}
