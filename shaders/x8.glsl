// x in 8 bits (engine/ops/matmul.h, vkslm_x8): the one scale and rounding every shader that writes it uses
// (matmul_vec.comp's X8_OUT, attention_lane.comp's X8_OUT, quantize_x8.comp), so that the same floats give the same
// integers whichever writes them; vkslm_cpu_quantize_x8 is the reference.
// A unit's scale dx (x) and its reciprocal (y) from the unit's largest magnitude a.
vec2 x8_scale(float a) { return vec2(a / 127.0, a > 0.0 ? 127.0 / a : 0.0); }
// x rounded to -127..127 with the reciprocal inv of its unit's scale
int x8_round(float x, float inv) { return int(roundEven(x * inv)); }
