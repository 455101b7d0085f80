#version 450
// LoRA's last step (engine/ops/lora.c): D[ids[r]][col0 + c] += mul * scales[r] * T[r][c] for the rows r of a
// group of tokens that use one adapter (gathered, so T's rows are dense) and the columns c of the adapted
// slice of the projection's output. One element per invocation: x the column, y the row.
layout(local_size_x_id = 0) in;

layout(push_constant) uniform Push {
    uint rows;     // rows in this dispatch
    uint cols;     // columns in this dispatch
    uint t_off;    // element offsets into the bound ranges
    uint t_stride; // elements between T's rows
    uint ids_off;
    uint sc_off;
    uint d_off;    // D's element (0, 0) of the slice
    uint d_stride; // elements between D's rows
    uint col0;     // the first column of this dispatch (within the slice)
    float mul;     // the adapter tensor's alpha / rank (or 1)
    uint pad0, pad1;
} pc;

layout(std430, binding = 0) readonly buffer BufT { float T[]; };
layout(std430, binding = 1) readonly buffer BufI { int IDS[]; };
layout(std430, binding = 2) readonly buffer BufS { float SC[]; };
layout(std430, binding = 3) buffer BufD { float D[]; };

void main() {
    uint c = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
    if (c >= pc.cols || r >= pc.rows)
        return;
    uint d = pc.d_off + uint(IDS[pc.ids_off + r]) * pc.d_stride + pc.col0 + c;
    D[d] += pc.mul * SC[pc.sc_off + r] * T[pc.t_off + r * pc.t_stride + c];
}
