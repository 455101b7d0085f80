#!/usr/bin/env bash
# vkslm bench on a lent GPU (the `device` tool of this workplace; CI never has one). Two halves:
#
#   scripts/gpu-bench.sh prepare   here: builds vkslm (Release), puts it with the shared libraries it needs
#                                  (not the C library, not the Vulkan loader) into .gpu/, downloads the
#                                  Vulkan loader packages into .gl/ (both ignored through .git/info/exclude),
#                                  and prints the device call to make: one `run` with carry [".gpu", ".gl"]
#   scripts/gpu-bench.sh remote    there (what that call runs): unpacks the loader, lists the devices, makes
#                                  synthetic smollm2-135m, qwen2.5-0.5b and llama-3.2-1b in Q4_0 and Q8_0
#                                  with `vkslm mkmodel`, runs `vkslm bench -o json` on each, and prints one
#                                  table: prompt and decode tok/s, decode GB/s of weights as a fraction of
#                                  the device's copy bandwidth (bench's roofline on a GPU: bytes read plus
#                                  written by a buffer copy), dispatches per token and time per dispatch.
#                                  The JSON files go to $OUT (they come back with the call).
# env (remote): P prompt tokens (512), N generated tokens (128), R repetitions (3), SHAPES, TYPES.
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
    scripts/build.sh build >/dev/null
    rm -rf .gpu && mkdir -p .gpu/lib
    cp build/vkslm .gpu/
    # the libraries vkslm links, except those every Linux has and the loader (unpacked from .gl there)
    ldd build/vkslm | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
        case "$(basename "$lib")" in
            libc.so.*|libm.so.*|ld-linux*|libvulkan.so.*|libpthread.so.*|libdl.so.*) ;;
            *) cp -L "$lib" .gpu/lib/ ;;
        esac
    done
    cp scripts/gpu-bench.sh .gpu/
    for p in /.gpu/ /.gl/; do
        grep -qxF "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude
    done
    if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
        mkdir -p .gl /tmp/amd64/partial
        local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
        apt-get "${o[@]}" update -qq
        (cd .gl && apt-get "${o[@]}" download libvulkan1 >/dev/null)
    fi
    du -sh .gpu .gl
    cat <<'EOF'
Now make one device call (the `run` verb of the device tool), for example with timeout_s 540:
  command: bash .gpu/gpu-bench.sh remote
  carry:   [".gpu", ".gl"]
EOF
}

remote() {
    if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then # the device image has no loader of its own
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
        export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
    local bin="$PWD/.gpu/vkslm" out="${OUT:-/tmp/gpu-bench}" tmp=/tmp/gpu-bench-models
    mkdir -p "$out" "$tmp"
    "$bin" devices | tee "$out/devices.txt"
    local P=${P:-512} N=${N:-128} R=${R:-3}
    for shape in ${SHAPES:-smollm2-135m qwen2.5-0.5b llama-3.2-1b}; do
        for type in ${TYPES:-Q4_0 Q8_0}; do
            local m="$tmp/$shape-$type.gguf"
            [ -f "$m" ] || "$bin" mkmodel --shape "$shape" --type "$type" -o "$m" >/dev/null
            echo "bench $shape $type" >&2
            "$bin" bench -m "$m" -p "$P" -n "$N" -r "$R" -o json >"$out/$shape-$type.json" ||
                echo "bench failed: $shape $type" >&2
        done
    done
    python3 - "$out" <<'PY'
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        r = json.load(open(f))
    except Exception as e:
        print(f"{os.path.basename(f)}: unreadable ({e})")
        continue
    disp = sum(o.get("dispatches_per_token", 0) for o in r.get("profile", []))
    ms = sum(o.get("ms_per_token", 0) for o in r.get("profile", []))
    name = os.path.basename(f)[:-5]
    rows.append((name, r["pp_tps"], r["tg_tps"], r["decode_gbps"], r["roofline_gbps"], r["roofline_fraction"],
                 disp, 1000.0 * ms / disp if disp else float("nan"), r["device"]))
print(f"device: {rows[0][8] if rows else '?'}")
print("| model | pp tok/s | tg tok/s | decode GB/s | roofline GB/s (GPU: copy, read + written) | fraction | dispatches/token | us/dispatch (profiled) |")
print("|---|---|---|---|---|---|---|---|")
for n, pp, tg, gb, roof, fr, d, us, _ in rows:
    print(f"| {n} | {pp:.1f} | {tg:.1f} | {gb:.1f} | {roof:.0f} | {100 * fr:.2f}% | {d:.0f} | {us:.1f} |")
PY
}

case "${1:-}" in
    prepare) prepare ;;
    remote) remote ;;
    *) echo "usage: scripts/gpu-bench.sh prepare|remote" >&2; exit 2 ;;
esac
