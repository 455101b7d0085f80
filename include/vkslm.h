/* vkslm.h: the public C API of vkslm, a Vulkan compute inference engine for small language models.
 *
 * Example (load a GGUF model and stream a continuation of a prompt):
 *
 *     #include <stdio.h>
 *     #include <vkslm.h>
 *     static bool print_piece(const char *piece, void *user) { fputs(piece, stdout); return true; }
 *     int main(int argc, char **argv) {
 *         vkslm_model *model;
 *         vkslm_session *session;
 *         if (vkslm_model_load(argv[1], NULL, &model) != VKSLM_OK ||
 *             vkslm_session_create(model, NULL, &session) != VKSLM_OK) {
 *             fprintf(stderr, "%s\n", vkslm_last_error());
 *             return 1;
 *         }
 *         vkslm_generate_params gp = vkslm_generate_default_params();
 *         gp.max_tokens = 64;
 *         gp.on_token = print_piece;
 *         vkslm_generate_result r;
 *         vkslm_status st = vkslm_generate(session, "Once upon a time", &gp, &r);
 *         printf("\n[%s, %.1f tokens/s]\n", vkslm_stop_reason_str(r.stop_reason), r.tg_tps);
 *         vkslm_session_free(session);
 *         vkslm_model_free(model);
 *         return st == VKSLM_OK ? 0 : 1;
 *     }
 *
 * Build: cc example.c $(pkg-config --cflags --libs vkslm)
 *
 * Conventions: every fallible call returns a vkslm_status; vkslm_status_str() names it and
 * vkslm_last_error() (per thread) says what failed and where. Handles are opaque, created and destroyed
 * in pairs, and destroy(NULL) is a no-op. The library never exits the process and prints nothing unless a
 * log callback is set.
 *
 * Model files (reading GGUF metadata and tensor tables, type names and sizes, requantizing, writing synthetic
 * models, all without a device) have their own header beside this one: vkslm_gguf.h. */
#ifndef VKSLM_H
#define VKSLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define VKSLM_API __declspec(dllexport)
#else
#define VKSLM_API __attribute__((visibility("default")))
#endif

/* Status codes. Ranges: 0 success, 1xx caller errors, 2xx input data, 3xx device/Vulkan, 4xx resources. */
typedef enum vkslm_status {
    VKSLM_OK = 0,
    VKSLM_ERR_INVALID_ARG = 100,    /* a caller passed a bad argument */
    VKSLM_ERR_NOT_FOUND = 101,      /* a named thing (an expert, say) does not exist */
    VKSLM_ERR_IO = 200,             /* a file could not be opened, read, mapped or written */
    VKSLM_ERR_FORMAT = 201,         /* malformed input data (a corrupt GGUF file, say) */
    VKSLM_ERR_UNSUPPORTED = 202,    /* valid input that this build does not support */
    VKSLM_ERR_TOO_COMPLEX = 203,    /* input exceeds an interpreter limit: a template nested too deep, a loop
                                     * or output too long (the input's fault: retrying cannot help) */
    VKSLM_ERR_NO_VULKAN = 300,      /* no Vulkan loader or driver */
    VKSLM_ERR_NO_DEVICE = 301,      /* no (matching) Vulkan device */
    VKSLM_ERR_VULKAN = 302,         /* a Vulkan call failed; the message names it and its VkResult */
    VKSLM_ERR_FEATURE_MISSING = 303,/* the device lacks a required feature */
    VKSLM_ERR_DEVICE_LOST = 304,
    VKSLM_ERR_OUT_OF_HOST_MEMORY = 400,
    VKSLM_ERR_OUT_OF_DEVICE_MEMORY = 401,
    VKSLM_ERR_LIMIT = 402,          /* a size exceeds a device or format limit, or the caller's buffer
                                     * (capacity) is too small: the needed size is reported where known */
    VKSLM_ERR_BUSY = 403            /* too many requests wait already, or the wait timed out */
} vkslm_status;

VKSLM_API const char *vkslm_status_str(vkslm_status status);
/* The message of the last failing call on this thread ("" if none). */
VKSLM_API const char *vkslm_last_error(void);
VKSLM_API const char *vkslm_version(void);

/* Text: what vkslm generates or detokenizes (on_token pieces, result text, vkslm_model_detokenize) and its
 * error and log messages are valid UTF-8: bytes that form no character (a byte token on its own, invalid
 * input quoted in a message) come out as U+FFFD. Renderings of the caller's own text (chat templates) and
 * the model file's template are passed through as they are.
 * vkslm_utf8_sanitize copies in[0, len) to out as valid UTF-8 the same way: each maximal ill-formed subpart
 * (Unicode 3.9: a truncated sequence, a stray continuation byte, an overlong form, a surrogate, a code point
 * above U+10FFFF, a byte C0, C1 or F5..FF) becomes one U+FFFD (EF BF BD); valid characters, NUL included, are
 * copied. It writes whole characters only, at most cap - 1 bytes, then a NUL when cap > 0 (out may be NULL
 * when cap is 0), and returns the length of the whole result without the NUL (at most 3 * len): the result
 * was cut when that is >= cap. */
VKSLM_API size_t vkslm_utf8_sanitize(const char *in, size_t len, char *out, size_t cap);

/* Logging: nothing is printed unless a callback is set. level: 0 error, 1 warning, 2 info, 3 debug. */
typedef void (*vkslm_log_fn)(int level, const char *message, void *user_data);
VKSLM_API void vkslm_set_log(vkslm_log_fn fn, int max_level, void *user_data);

/* ---- devices ---------------------------------------------------------------------------------- */
typedef enum vkslm_device_type {
    VKSLM_DEVICE_OTHER = 0,
    VKSLM_DEVICE_INTEGRATED_GPU = 1,
    VKSLM_DEVICE_DISCRETE_GPU = 2,
    VKSLM_DEVICE_VIRTUAL_GPU = 3,
    VKSLM_DEVICE_CPU = 4
} vkslm_device_type;

typedef struct vkslm_device_info {
    char name[256];
    char driver_name[256];
    char driver_info[256];
    vkslm_device_type type;
    uint32_t vendor_id, device_id;
    uint32_t api_version;              /* VK_MAKE_API_VERSION encoding */
    uint32_t driver_version;
    uint32_t subgroup_size;            /* default subgroup size */
    uint32_t subgroup_size_min, subgroup_size_max;
    uint64_t max_storage_buffer_range; /* bytes */
    uint64_t max_memory_allocation_size;
    uint64_t device_local_bytes;       /* sum of device-local heaps */
    int uma;                           /* a memory type is both device-local and host-visible */
    int fp16, int8, storage16, storage8, integer_dot_product, cooperative_matrix;
} vkslm_device_info;

/* Fills up to `cap` entries; *count gets the number of devices, *chosen the index that the default
 * choice (discrete > integrated > virtual > CPU, or VKSLM_DEVICE) would take. */
VKSLM_API vkslm_status vkslm_devices_list(vkslm_device_info *info, int cap, int *count, int *chosen);
/* "discrete", "integrated", "virtual", "cpu" or "other". */
VKSLM_API const char *vkslm_device_type_str(vkslm_device_type type);

/* Subgroup operations in compute shaders (vkslm_device_details.subgroup_ops): Vulkan's
 * VkSubgroupFeatureFlagBits values. */
#define VKSLM_SUBGROUP_BASIC 0x01u
#define VKSLM_SUBGROUP_VOTE 0x02u
#define VKSLM_SUBGROUP_ARITHMETIC 0x04u
#define VKSLM_SUBGROUP_BALLOT 0x08u
#define VKSLM_SUBGROUP_SHUFFLE 0x10u
#define VKSLM_SUBGROUP_SHUFFLE_RELATIVE 0x20u
#define VKSLM_SUBGROUP_CLUSTERED 0x40u
#define VKSLM_SUBGROUP_QUAD 0x80u
#define VKSLM_MAX_MEMORY_HEAPS 16

/* Everything vkslm queries of a device (what `vkslm devices` prints): vkslm_device_info and the rest. */
typedef struct vkslm_device_details {
    vkslm_device_info info;
    uint32_t n_memory_heaps;
    struct {
        uint64_t bytes;
        bool device_local;
    } memory_heaps[VKSLM_MAX_MEMORY_HEAPS];
    bool subgroup_size_control;          /* VK_EXT_subgroup_size_control or Vulkan 1.3 */
    uint32_t subgroup_ops;               /* VKSLM_SUBGROUP_* bits */
    bool integer_dot_4x8_accelerated;    /* the packed 4 x 8-bit integer dot product is accelerated */
    bool cooperative_matrix_nv, cooperative_matrix_khr; /* queried, not used yet */
    uint32_t max_compute_shared_memory;  /* bytes (maxComputeSharedMemorySize) */
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_size[3], max_workgroup_count[3];
    uint32_t max_push_constants;         /* bytes */
    uint64_t min_storage_offset_alignment; /* bytes (minStorageBufferOffsetAlignment) */
    bool timestamps;                     /* the compute queue writes timestamps (vkslm_session_profile) */
    float timestamp_period_ns;
    /* env VKSLM_DEVICE_PROFILE: the profile's name ("" none; the limits and features above are narrowed to
     * it) and its own subgroup sizes, which the driver's own (info.subgroup_size) cannot be narrowed to */
    char profile[32];
    uint32_t profile_subgroup_size, profile_subgroup_size_min, profile_subgroup_size_max;
    char quirks[256];                    /* driver quirk entries applied, comma-separated ("" none) */
} vkslm_device_details;

/* As vkslm_devices_list with every detail, the choice made by `selector` (as vkslm_model_params.device: a
 * decimal index or a case-insensitive name substring; NULL: env VKSLM_DEVICE, else the default choice).
 * *chosen is -1 when nothing matches the selector (the listing still succeeds; vkslm_last_error says why). */
VKSLM_API vkslm_status vkslm_devices_list_details(const char *selector, vkslm_device_details *out, int cap,
                                                  int *count, int *chosen);

/* A device profile: the limits and features of a real GPU (see docs/devices.md). Setting env
 * VKSLM_DEVICE_PROFILE to its name makes vkslm narrow the chosen device to them (never widen it): each limit
 * becomes the smaller of the two, each feature stays only if both have it. Strings are static. */
typedef struct vkslm_device_profile {
    const char *name, *description;
    uint32_t subgroup_size, subgroup_size_min, subgroup_size_max;
    bool subgroup_size_control;
    uint64_t max_storage_buffer_range, max_memory_allocation_size; /* bytes */
    uint32_t max_compute_shared_memory;                            /* bytes */
    uint32_t max_workgroup_invocations, max_workgroup_size[3];
    bool fp16, int8, storage16, storage8, integer_dot_product;
    uint64_t device_local_bytes;                                   /* the device-local heap */
} vkslm_device_profile;

/* Fills up to `cap` profiles (out may be NULL when cap is 0); *count gets how many exist. Needs no device.
 * Errors: VKSLM_ERR_INVALID_ARG for a NULL count, a negative cap, or a NULL out with cap > 0. */
VKSLM_API vkslm_status vkslm_device_profiles_list(vkslm_device_profile *out, int cap, int *count);

/* An entry of the driver quirk table (docs/devices.md): a known driver bug, the devices it matches (vendor,
 * VkDriverId, 0 for any driver of the vendor, and an inclusive range of driver versions as the driver encodes
 * them), the public issue that shows it (or, where none is known, the project's own write-up in
 * docs/devices.md), and the workarounds vkslm applies when it matches (or when env VKSLM_FORCE_QUIRK names it):
 * a comma-separated list of no-fp16, no-8bit, no-16bit-storage, no-subgroup-size-control, scalar-matvec,
 * soft-f16 (the kernels convert f16 in integer and f32 arithmetic). Strings are static. */
typedef struct vkslm_device_quirk {
    const char *name, *description, *link;
    uint32_t vendor_id, driver_id, driver_version_min, driver_version_max;
    const char *workarounds;
} vkslm_device_quirk;

/* Fills up to `cap` entries (out may be NULL when cap is 0); *count gets how many exist. Needs no device.
 * Errors: VKSLM_ERR_INVALID_ARG for a NULL count, a negative cap, or a NULL out with cap > 0. */
VKSLM_API vkslm_status vkslm_device_quirks_list(vkslm_device_quirk *out, int cap, int *count);

/* ---- models ------------------------------------------------------------------------------------ */
/* Threads: a loaded model is immutable and may be shared by sessions used from different threads at
 * the same time. One session must be used by one thread at a time. */
typedef struct vkslm_model vkslm_model;
typedef struct vkslm_session vkslm_session;

/* Called during loading with the fraction of weights uploaded (0..1); return false to cancel. */
typedef bool (*vkslm_progress_fn)(float fraction, void *user_data);

typedef struct vkslm_model_params {
    const char *device;           /* index or name substring; NULL: env VKSLM_DEVICE, else the default choice */
    bool validate;                /* Khronos validation layer (debugging; needs vulkan-validationlayers) */
    bool profile;                 /* per-dispatch GPU timestamps (vkslm_session_profile) */
    vkslm_progress_fn progress;
    void *progress_user_data;
    /* Load onto this model's Vulkan device (its memory, queue and compiled pipelines) instead of opening
     * a device; device and validate are then those of the shared one. The device stays open until the
     * last model on it is freed, so the models may be freed in any order. NULL: open a device. */
    const vkslm_model *share_device;
    /* Load only the vocabulary, tokenizer and chat template: no device is opened and no weight is read.
     * Tokenizing, detokenizing, chat templates and the model's metadata calls work; sessions are refused. */
    bool vocab_only;
} vkslm_model_params;

VKSLM_API vkslm_model_params vkslm_model_default_params(void);
/* params may be NULL (defaults). The file is mapped while the model lives. A model that asks for a
 * computation vkslm does not implement is refused (VKSLM_ERR_UNSUPPORTED, the message naming the key or
 * tensor) rather than run wrongly: a hyperparameter key of its architecture with a value other than "off"
 * (experts, soft-capping or a sliding window where the architecture has none, non-causal attention, ...), a
 * key vkslm does not know, or a tensor the graph would not read (docs/cli.md, "Models vkslm refuses"). */
VKSLM_API vkslm_status vkslm_model_load(const char *path, const vkslm_model_params *params, vkslm_model **out);
/* `data` is borrowed: it must stay valid and unchanged until vkslm_model_free. */
VKSLM_API vkslm_status vkslm_model_load_memory(const void *data, size_t size, const vkslm_model_params *params,
                                              vkslm_model **out);
/* Maps `length` bytes at `offset` of an open file (Android: AAsset_openFileDescriptor); length 0: to the
 * end. The descriptor may be closed after the call. */
VKSLM_API vkslm_status vkslm_model_load_fd(int fd, uint64_t offset, uint64_t length, const vkslm_model_params *params,
                                          vkslm_model **out);
VKSLM_API void vkslm_model_free(vkslm_model *model);

VKSLM_API const char *vkslm_model_arch(const vkslm_model *model);        /* "llama", "qwen2", ... */
VKSLM_API const char *vkslm_model_device_name(const vkslm_model *model);
VKSLM_API int32_t vkslm_model_n_vocab(const vkslm_model *model);
VKSLM_API uint32_t vkslm_model_n_ctx_train(const vkslm_model *model);
/* The context of a session whose n_ctx is 0 (the API's, the CLI's and every orchestra expert's default):
 * the model's trained context, at most VKSLM_DEFAULT_N_CTX tokens. */
#define VKSLM_DEFAULT_N_CTX 4096u
VKSLM_API uint32_t vkslm_model_default_n_ctx(const vkslm_model *model);
VKSLM_API uint64_t vkslm_model_weight_bytes(const vkslm_model *model);   /* device memory of the weights */
/* Device memory the model's Vulkan device holds now, in whole allocations: its weights and the buffers of
 * its sessions, and those of other models sharing the device (share_device). */
VKSLM_API uint64_t vkslm_model_device_bytes(const vkslm_model *model);
/* Validation-layer errors plus warnings reported since the model was loaded (0 without validation). */
VKSLM_API uint32_t vkslm_model_validation_messages(const vkslm_model *model);
/* The model's Vulkan device, as vkslm_devices_list describes it. VKSLM_ERR_INVALID_ARG for a vocabulary-only
 * model, which has none. */
VKSLM_API vkslm_status vkslm_model_device_info(const vkslm_model *model, vkslm_device_info *out);
/* Device memory in live buffers now: the weights and the sessions' buffers of every model on the device, each
 * rounded up to the allocator's alignment (vkslm_model_device_bytes counts the whole allocations holding
 * them). 0 for a vocabulary-only model. */
VKSLM_API uint64_t vkslm_model_device_bytes_in_use(const vkslm_model *model);

/* ---- tokens ------------------------------------------------------------------------------------ */
/* add_bos: -1 as the vocabulary says, 0 never, 1 always. parse_special: recognise control tokens such
 * as <|im_start|> written in the text. *n_ids gets the count; VKSLM_ERR_LIMIT if it exceeds cap. */
VKSLM_API vkslm_status vkslm_model_tokenize(const vkslm_model *model, const char *text, size_t len, int add_bos,
                                           bool parse_special, int32_t *ids, size_t cap, size_t *n_ids);
/* Writes the text of ids as valid UTF-8 (as vkslm_utf8_sanitize: byte tokens that form no whole character
 * give U+FFFD), NUL-terminated, cut to whole characters within cap - 1 bytes; *len gets the full length. */
VKSLM_API vkslm_status vkslm_model_detokenize(const vkslm_model *model, const int32_t *ids, size_t n, char *text,
                                             size_t cap, size_t *len);
VKSLM_API bool vkslm_model_token_is_eog(const vkslm_model *model, int32_t id);
/* As vkslm_model_tokenize, with the vocabulary's own start and end tokens when add_special (llama.cpp's
 * llama_tokenize add_special): BOS where the vocabulary adds one, EOS where tokenizer.ggml.add_eos_token asks
 * for it, BERT's CLS and SEP; none without add_special. */
VKSLM_API vkslm_status vkslm_model_tokenize_special(const vkslm_model *model, const char *text, size_t len,
                                                   bool add_special, bool parse_special, int32_t *ids, size_t cap,
                                                   size_t *n_ids);
/* The bytes token id stands for in detokenized text (SentencePiece's U+2581 as a space, a byte token <0xNN> as
 * its byte): *len bytes, not NUL-terminated, a view valid while the model lives; NULL (*len 0) for an id
 * outside the vocabulary. Control and unknown tokens give their text with special, else "" (as
 * vkslm_model_detokenize, which leaves them out). Unlike vkslm's other text a piece is raw bytes: a byte token
 * or a byte-level piece may be part of a UTF-8 character, so join pieces before reading them as text
 * (vkslm_model_detokenize joins and repairs them). */
VKSLM_API const char *vkslm_model_token_piece(const vkslm_model *model, int32_t id, bool special, size_t *len);

/* ---- chat templates ---------------------------------------------------------------------------- */
typedef struct vkslm_chat_message {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content; /* NULL renders as the template's none */
} vkslm_chat_message;

/* Renders a conversation through a chat template into buf (NUL-terminated); *len gets the length
 * without the NUL. VKSLM_ERR_LIMIT when it needs more than cap bytes (buf may be NULL with cap 0 to ask
 * for the length first): only then, so a caller may retry with a larger buffer on VKSLM_ERR_LIMIT and
 * on nothing else. template_override: NULL for the model's own tokenizer.chat_template (model may
 * then not be NULL); a family name ("chatml", "llama3", "llama2", "mistral", "phi3", "gemma", "deepseek")
 * for a built-in template; anything else is template text. The Jinja subset of published templates is
 * interpreted as Hugging Face transformers renders it (trim_blocks, lstrip_blocks, bos_token and eos_token
 * from the vocabulary, strftime_now). When the model's own template uses Jinja that this interpreter
 * lacks, the family its markers show is rendered instead (with a warning through the log callback).
 * A template that refuses the conversation (raise_exception, e.g. Gemma's "System role not supported")
 * gives VKSLM_ERR_INVALID_ARG with the template's message; one that cannot be rendered gives
 * VKSLM_ERR_FORMAT or VKSLM_ERR_UNSUPPORTED naming the line, column and construct; one that exceeds the
 * interpreter's bounds (nesting, including long chains such as a + b + c + ..., steps, output or memory:
 * a hostile template) gives VKSLM_ERR_TOO_COMPLEX, also naming line and column. */
VKSLM_API vkslm_status vkslm_chat_apply_template(const vkslm_model *model, const char *template_override,
                                                const vkslm_chat_message *msgs, size_t n,
                                                bool add_generation_prompt, char *buf, size_t cap, size_t *len);
/* Renders a conversation as vkslm_chat_apply_template does (same templates, fallback and errors) and
 * tokenizes the rendering without adding BOS (the template writes it where the model wants it). Control
 * tokens (<|im_start|>, ...) are recognised in the template's own text; in the text that came from the
 * messages' content they are recognised only with parse_special_in_content, so that by default a user
 * who writes "<|im_start|>system" gets plain text, not a forged turn. User-defined tokens of the
 * vocabulary are recognised everywhere, as vkslm_model_tokenize does. The ids are those of tokenizing
 * the whole rendering at once (never piecewise), so a conversation without control-token text in its
 * content gets exactly the ids of vkslm_model_tokenize(rendering, add_bos 0, parse_special true).
 * *n_ids gets the count; VKSLM_ERR_LIMIT when it exceeds cap (ids may be NULL with cap 0 to ask). */
VKSLM_API vkslm_status vkslm_chat_tokenize(const vkslm_model *model, const char *template_override,
                                          const vkslm_chat_message *msgs, size_t n, bool add_generation_prompt,
                                          bool parse_special_in_content, int32_t *ids, size_t cap, size_t *n_ids);
/* Tool calling: the conversation and the tools as JSON text, rendered and tokenized as
 * vkslm_chat_apply_template and vkslm_chat_tokenize do (same templates, fallback, errors and buffer rules).
 * messages_json: an array of message objects in OpenAI's shape, each with a "role" string and whatever else
 * the template reads: "content" (a string or null), an assistant's "tool_calls" ([{"id", "type":
 * "function", "function": {"name", "arguments"}}]; templates such as Qwen's and Llama's write "arguments"
 * with tojson, so pass it as an object, as transformers does, not as OpenAI's JSON string), a tool
 * result's "tool_call_id" and "name". A key a message lacks is undefined to the template (Llama 3's
 * template tests 'tool_calls' in message), so leave keys out rather than set them to null. tools_json: the
 * template's `tools` variable, an array in OpenAI's shape ([{"type": "function", "function": {"name",
 * "description", "parameters"}}]), or NULL for none (the template sees none, as transformers passes it).
 * Objects keep their key order; numbers without a fraction or exponent are integers. Every string in the
 * messages and tools but the roles counts as content: control tokens in it are text unless
 * parse_special_in_content. Errors: VKSLM_ERR_INVALID_ARG for JSON that does not parse (the message names
 * the byte), a message without a role, tools given to a template that never reads `tools` (it would drop
 * them silently: the built-in family templates and, say, Phi-3's), or a template that refuses the
 * conversation (raise_exception: Llama 3's "only supports single tool-calls", Mistral's nine-character
 * call ids). */
VKSLM_API vkslm_status vkslm_chat_apply_template_json(const vkslm_model *model, const char *template_override,
                                                     const char *messages_json, const char *tools_json,
                                                     bool add_generation_prompt, char *buf, size_t cap, size_t *len);
VKSLM_API vkslm_status vkslm_chat_tokenize_json(const vkslm_model *model, const char *template_override,
                                               const char *messages_json, const char *tools_json,
                                               bool add_generation_prompt, bool parse_special_in_content,
                                               int32_t *ids, size_t cap, size_t *n_ids);
/* The model's own template text (not NUL-terminated: *len bytes, a view valid while the model lives), or
 * NULL when it has none. */
VKSLM_API const char *vkslm_model_chat_template(const vkslm_model *model, size_t *len);

/* ---- sessions ---------------------------------------------------------------------------------- */
typedef struct vkslm_session_params {
    uint32_t n_ctx;   /* context length in tokens; 0: vkslm_model_default_n_ctx (min(4096, the model's));
                       * at most the model's */
    uint32_t n_batch; /* tokens per step (prefill chunk, or a vkslm_decode batch's slice); 0: 64 */
    bool kv_f32;      /* keep the KV cache in f32 (default f16) */
    uint32_t n_seq;   /* sequences the session holds (ids 0 .. n_seq - 1), each a KV cache slot of n_ctx
                       * positions; 0: 1. The calls below that name no sequence work on sequence 0. */
} vkslm_session_params;

VKSLM_API vkslm_session_params vkslm_session_default_params(void);
/* params may be NULL. The model must outlive its sessions. */
VKSLM_API vkslm_status vkslm_session_create(vkslm_model *model, const vkslm_session_params *params,
                                           vkslm_session **out);
VKSLM_API void vkslm_session_free(vkslm_session *session);
VKSLM_API vkslm_model *vkslm_session_model(const vkslm_session *session);
/* Device bytes of the session's buffers: KV cache, activations, logits. */
VKSLM_API uint64_t vkslm_session_device_bytes(const vkslm_session *session);
/* Feeds tokens after those already in the session; the logits of the last one become available. */
VKSLM_API vkslm_status vkslm_session_eval(vkslm_session *session, const int32_t *ids, size_t n);
/* Receives the logits of tokens first .. first+n-1 of an eval_all call (n rows of n_vocab floats, valid
 * during the call); return false to stop. */
typedef bool (*vkslm_logits_fn)(const float *logits, size_t first, size_t n, void *user_data);
/* Feeds tokens like vkslm_session_eval and hands over the logits of every one of them (scoring,
 * perplexity), in steps of n_batch tokens. */
VKSLM_API vkslm_status vkslm_session_eval_all(vkslm_session *session, const int32_t *ids, size_t n, vkslm_logits_fn fn,
                                             void *user_data);
/* The logits (n_vocab floats) of the last token fed by vkslm_session_eval, or NULL (also after
 * vkslm_generate, whose last token is fed at the start of the next call). Valid until the next call. */
VKSLM_API const float *vkslm_session_logits(vkslm_session *session);
VKSLM_API uint32_t vkslm_session_n_past(const vkslm_session *session); /* tokens in the KV cache */
VKSLM_API uint32_t vkslm_session_n_ctx(const vkslm_session *session);
/* Forgets every token from position pos on (0: start over). */
VKSLM_API vkslm_status vkslm_session_rewind(vkslm_session *session, uint32_t pos);

/* GPU time per op kind, summed over the session's steps since it was created or last reset; needs a model
 * loaded with vkslm_model_params.profile (otherwise it stays empty). */
typedef struct vkslm_profile_entry {
    const char *op;         /* "matvec", "attention", ... (static strings) */
    double ms;              /* GPU time */
    double bytes, flops;    /* memory moved and floating-point operations, as the op declares them */
    uint64_t dispatches;
} vkslm_profile_entry;
/* Copies up to cap entries (out may be NULL with cap 0) and returns how many there are. */
VKSLM_API size_t vkslm_session_profile(const vkslm_session *session, vkslm_profile_entry *out, size_t cap);
VKSLM_API void vkslm_session_profile_reset(vkslm_session *session);

/* Measuring (vkslm bench). vkslm_session_eval_argmax feeds tokens as vkslm_session_eval does, but the last
 * token's logits stay on the device: only their argmax (the lowest id among equal maxima; -1 when no logit is
 * above -inf) is read back into *argmax. It is greedy decoding's step, the one vkslm_generate takes at
 * temperature 0; vkslm_session_logits gives NULL after it. */
VKSLM_API vkslm_status vkslm_session_eval_argmax(vkslm_session *session, const int32_t *ids, size_t n,
                                                int32_t *argmax);
/* CPU time, in ms of the calling thread's own clock, that the session's last vkslm_session_eval or
 * vkslm_session_eval_argmax (or vkslm_generate's last step) spent recording its steps: the graph and every op's
 * dispatch (binding, pipeline lookup, push constants), submit and wait excluded. */
VKSLM_API double vkslm_session_record_ms(const vkslm_session *session);
/* The memory roofline that decode on the model's device is compared against, measured now: for a CPU-type
 * device (lavapipe) the host's memory read bandwidth (a plain C loop reading `bytes` on every core), for a GPU
 * its buffer-copy bandwidth (bytes read plus bytes written, between two device buffers of `bytes` each). The
 * best of reps runs (a GPU's after one warm-up), in GB/s (1e9 bytes per second); *kind (may be NULL) gets
 * "host_read" or "device_copy". VKSLM_ERR_INVALID_ARG for a vocabulary-only model. */
VKSLM_API vkslm_status vkslm_model_roofline(const vkslm_model *model, uint64_t bytes, int reps, double *gbps,
                                           const char **kind);

/* ---- token level: batches, decoding, sequences (as llama.h's llama_batch / llama_decode) --------- */
/* A batch lists entries (token, position, sequence, whether its logits are wanted) from any mix of a
 * session's sequences: one sequence's prompt chunk beside other sequences' single decode tokens. One
 * vkslm_decode runs them together: every weight is read once per step for all entries, attention and
 * the KV cache stay per sequence. */
typedef struct vkslm_batch vkslm_batch;
/* A batch of up to capacity entries; NULL (with vkslm_last_error) when capacity is 0 or memory is out. */
VKSLM_API vkslm_batch *vkslm_batch_init(uint32_t capacity);
VKSLM_API void vkslm_batch_free(vkslm_batch *batch);
VKSLM_API void vkslm_batch_clear(vkslm_batch *batch);
/* Appends an entry; VKSLM_ERR_LIMIT when the batch is full. The entry's index (0, 1, ...) names its
 * output in vkslm_logits_ith and vkslm_top_ith. */
VKSLM_API vkslm_status vkslm_batch_add(vkslm_batch *batch, int32_t token, uint32_t pos, int32_t seq, bool logits);
VKSLM_API uint32_t vkslm_batch_size(const vkslm_batch *batch);

/* Runs a batch (in steps of the session's n_batch entries when it holds more). The entries of one
 * sequence must have consecutive positions in batch order, the first at most the sequence's length
 * (vkslm_seq_pos_max + 1: a sequence continues, or overwrites its own tail); afterwards the sequence
 * ends at its last entry. Sequences may have any lengths and positions. Refused as a whole, with nothing
 * run, when an entry is invalid (a token outside the vocabulary, an unknown sequence, a gap, a position
 * past n_ctx). vkslm_decode reads back the logits of every entry that asked for them; vkslm_decode_top
 * reads back only the k largest (k <= VKSLM_TOP_K_MAX; k = 1 is the argmax), chosen on the device. */
#define VKSLM_TOP_K_MAX 64u
VKSLM_API vkslm_status vkslm_decode(vkslm_session *session, const vkslm_batch *batch);
VKSLM_API vkslm_status vkslm_decode_top(vkslm_session *session, const vkslm_batch *batch, uint32_t k);
/* The logits (n_vocab floats) of entry i of the last vkslm_decode (i < 0 counts from the last entry that
 * asked for logits: -1 is the last), valid until the next decode; NULL when the entry asked for none or
 * the last call was vkslm_decode_top. */
VKSLM_API const float *vkslm_logits_ith(vkslm_session *session, int32_t i);
/* The top ids and their logits of entry i of the last vkslm_decode_top (i as vkslm_logits_ith), best
 * first, ties to the lower id; returns k, or 0 when the entry has none. */
VKSLM_API uint32_t vkslm_top_ith(vkslm_session *session, int32_t i, const int32_t **ids, const float **logits);

/* Sequence operations. Positions [p0, p1) with p1 < 0 meaning "to the end"; seq < 0 means every
 * sequence where said. */
VKSLM_API uint32_t vkslm_session_n_seq(const vkslm_session *session);
/* The last position sequence seq holds, -1 when empty. */
VKSLM_API int32_t vkslm_seq_pos_max(const vkslm_session *session, int32_t seq);
/* Forgets positions [p0, p1) of seq (seq < 0: of every sequence). A sequence holds positions 0 .. its
 * length - 1 without holes, so the range must reach its end (p1 < 0 or p1 > vkslm_seq_pos_max):
 * removing from inside is refused with VKSLM_ERR_UNSUPPORTED. */
VKSLM_API vkslm_status vkslm_seq_rm(vkslm_session *session, int32_t seq, int32_t p0, int32_t p1);
/* Copies positions [p0, p1) of src into dst at the same positions (a shared prompt prefix: dst then
 * prefills only what follows). dst must hold at least p0 positions; it then ends at p1 (p1 < 0: src's end)
 * and forgets what it held past that. */
VKSLM_API vkslm_status vkslm_seq_cp(vkslm_session *session, int32_t src, int32_t dst, int32_t p0, int32_t p1);
/* Empties seq (seq < 0: every sequence). */
VKSLM_API vkslm_status vkslm_seq_clear(vkslm_session *session, int32_t seq);

/* ---- LoRA adapters ----------------------------------------------------------------------------- */
/* A LoRA adapter (a fine-tune stored as low-rank pairs, GGUF as llama.cpp's convert_lora_to_gguf.py
 * writes it: general.type "adapter", adapter.type "lora", adapter.lora.alpha, NAME.weight.lora_a [in, r]
 * and NAME.weight.lora_b [r, out] in F32, F16 or Q8_0) held on the device beside its base model, which is
 * not changed: any number of adapters can be loaded on one base and freed again while the base stays.
 * Each sequence selects its own adapters and scales (or none); a step computes
 * y = W x + scale * B (A x) for every adapted weight of each sequence's adapters, the sequences of one
 * adapter together. The effective scale of a pair is scale * alpha / r, or scale when alpha is 0 (as
 * llama.cpp). Adaptable weights: attn_q, attn_k, attn_v, attn_qkv, attn_output, ffn_gate, ffn_up and
 * ffn_down of any layer. */
typedef struct vkslm_lora vkslm_lora;
#define VKSLM_LORA_MAX_PER_SEQ 8 /* adapters one sequence may select at once */

/* Loads the adapter at path onto model's device. Refused, with a message naming the tensor: a file that is
 * not a LoRA adapter (VKSLM_ERR_FORMAT), an adapter for another architecture (VKSLM_ERR_UNSUPPORTED), a
 * tensor vkslm does not adapt (VKSLM_ERR_UNSUPPORTED), a pair with a missing half or a shape that does not
 * fit the base weight (VKSLM_ERR_FORMAT), VKSLM_ERR_OUT_OF_DEVICE_MEMORY when it does not fit the device.
 * The model must outlive the adapter. */
VKSLM_API vkslm_status vkslm_lora_load(vkslm_model *model, const char *path, vkslm_lora **out);
/* Frees the adapter's device memory. No sequence of any session may select it any more (set those
 * sequences' adapters to others first). NULL: no-op. */
VKSLM_API void vkslm_lora_free(vkslm_lora *lora);
/* Device memory the adapter holds (its A and B matrices). */
VKSLM_API uint64_t vkslm_lora_device_bytes(const vkslm_lora *lora);
/* The largest rank r of its pairs, and adapter.lora.alpha (0 when absent). */
VKSLM_API uint32_t vkslm_lora_rank(const vkslm_lora *lora);
VKSLM_API float vkslm_lora_alpha(const vkslm_lora *lora);
/* Sequence seq of the session uses lora[0..n) with scales[0..n) from the next step on (n = 0: none; at most
 * VKSLM_LORA_MAX_PER_SEQ, each loaded on the session's model, none twice, finite scales). When the
 * selection differs from the sequence's current one, the sequence is emptied (its cache was computed
 * with other weights). The arrays are copied; the adapters must stay loaded while selected. */
VKSLM_API vkslm_status vkslm_seq_set_lora(vkslm_session *session, int32_t seq, vkslm_lora *const *lora,
                                         const float *scales, size_t n);

/* ---- embeddings -------------------------------------------------------------------------------- */
/* An embedding is the model's final hidden states (after the output norm, where the logits would be
 * projected from: n_embd floats per token) pooled over the input's tokens and L2-normalised (an input
 * whose pooled vector is all zeros stays zero). Attention is the model's own (causal), so token t's state
 * sees tokens 0 .. t. */
typedef enum vkslm_pooling {
    VKSLM_POOLING_DEFAULT = 0, /* the model's (vkslm_model_pooling) */
    VKSLM_POOLING_MEAN = 1,    /* the mean of every token's hidden state */
    VKSLM_POOLING_LAST = 2     /* the last token's hidden state (decoder models trained for it) */
} vkslm_pooling;
/* "default", "mean" or "last"; "unknown" for other values. */
VKSLM_API const char *vkslm_pooling_str(vkslm_pooling pooling);
/* The width of the model's hidden states (the length of its embeddings); 0 for a vocabulary-only model. */
VKSLM_API int32_t vkslm_model_n_embd(const vkslm_model *model);
/* The pooling VKSLM_POOLING_DEFAULT stands for: the GGUF key "<arch>.pooling_type" when the file has it
 * with mean (1) or last (3), else VKSLM_POOLING_MEAN. (Files asking for other poolings do not load.) */
VKSLM_API vkslm_pooling vkslm_model_pooling(const vkslm_model *model);
/* Embeds ids[0..n) as a sequence of its own in sequence seq of the session: seq is emptied first and again
 * after (its earlier content is lost; the session's other sequences are untouched), the tokens run in
 * steps of n_batch, and out gets vkslm_model_n_embd floats, L2-normalised. Mean pooling reads back every
 * token's hidden state, last-token pooling only the last one's; no logits are computed.
 * VKSLM_ERR_INVALID_ARG: NULL arguments, n 0, an unknown sequence or pooling, a token outside the
 * vocabulary; VKSLM_ERR_LIMIT: n is larger than the session's context (nothing runs). */
VKSLM_API vkslm_status vkslm_embed_tokens(vkslm_session *session, int32_t seq, const int32_t *ids, size_t n,
                                         vkslm_pooling pooling, float *out);
/* As vkslm_embed_tokens, from text tokenized with the vocabulary's own start and end tokens
 * (vkslm_model_tokenize_special with add_special, control tokens not parsed); *n_tokens (may be NULL) gets
 * the token count. VKSLM_ERR_INVALID_ARG when the text gives no token. */
VKSLM_API vkslm_status vkslm_embed(vkslm_session *session, int32_t seq, const char *text, vkslm_pooling pooling,
                                  float *out, size_t *n_tokens);

/* ---- sampler chains (as llama.h's llama_sampler_chain_*) ----------------------------------------- */
/* A chain is a sampler made of stages applied in order to the candidates (every token of a row of
 * logits); its last stage picks (greedy or dist). Build one as
 *     vkslm_sampler *c = vkslm_sampler_chain_init();
 *     vkslm_sampler_chain_add(c, vkslm_sampler_init_top_k(40));
 *     vkslm_sampler_chain_add(c, vkslm_sampler_init_temp(0.8f));
 *     vkslm_sampler_chain_add(c, vkslm_sampler_init_dist(seed));
 *     int32_t id = vkslm_sampler_sample(c, session, -1);
 * Constructors return NULL (with vkslm_last_error) for bad arguments or when out of memory; a chain owns
 * the stages added to it. One sampler is used by one thread at a time.
 * Stages work in place on the candidates: they may change logits, reorder data and shrink size (top-k,
 * top-p, min-p and temperature <= 0 keep the best ones, sorted: logit descending, ties to the lower id),
 * set p (dist, top-p) and set selected (greedy, dist: -1 when no candidate is above -inf). A stage that
 * changes logits (penalties, logit bias, a hook) clears sorted. NaN logits count as -inf. */
typedef struct vkslm_token_data {
    int32_t id;
    float logit;
    float p;      /* set by stages that compute probabilities */
} vkslm_token_data;
typedef struct vkslm_token_data_array {
    vkslm_token_data *data;
    size_t size;
    int64_t selected; /* index into data of the pick, -1 before a stage picks */
    bool sorted;      /* data is sorted by logit, largest first */
} vkslm_token_data_array;
typedef struct vkslm_sampler vkslm_sampler;
typedef struct vkslm_logit_bias {
    int32_t token;
    float bias;       /* added to the token's logit; -INFINITY bans it */
} vkslm_logit_bias;
/* A stage of the caller's own (the grammar hook: apply may set logits of tokens not allowed to
 * -INFINITY). Any function pointer may be NULL. cur->sorted is cleared after apply, so later stages do
 * not trust an order the hook may have broken. free is called with user when the stage is freed (with its
 * chain), not when vkslm_sampler_init_hook fails. */
typedef struct vkslm_sampler_hook {
    void (*apply)(vkslm_token_data_array *cur, void *user);
    void (*accept)(int32_t token, void *user);
    void (*reset)(void *user);
    void (*free)(void *user);
    void *user;
} vkslm_sampler_hook;

VKSLM_API vkslm_sampler *vkslm_sampler_chain_init(void);
/* Appends stage (the chain now owns it; chain and stage not NULL, stage not in another chain, not the
 * chain itself nor a chain holding it). On failure the caller keeps the stage. */
VKSLM_API vkslm_status vkslm_sampler_chain_add(vkslm_sampler *chain, vkslm_sampler *stage);
VKSLM_API size_t vkslm_sampler_chain_n(const vkslm_sampler *chain); /* 0 for NULL or a stage */
VKSLM_API vkslm_sampler *vkslm_sampler_init_greedy(void);             /* picks the largest; ties: lowest id */
/* A seeded draw from softmax(logits); sets p of every candidate. Reset restarts the seed's sequence. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_dist(uint64_t seed);
/* logits / t; t <= 0 keeps the largest. NaN or +inf: refused. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_temp(float t);
VKSLM_API vkslm_sampler *vkslm_sampler_init_top_k(int32_t k);         /* k <= 0, or k >= size: unchanged */
/* Keeps the fewest best candidates whose probabilities (softmax of the logits) reach p, at least
 * min_keep; p in (0, 1] (1: off), else refused. min_keep is a count: a negative int cast to size_t (above
 * INT32_MAX) is refused, here and in min_p. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_top_p(float p, size_t min_keep);
/* Keeps the candidates with probability >= p * the largest probability (at least min_keep, at least
 * one); p >= 0 (0: off), NaN or negative refused. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_min_p(float p, size_t min_keep);
/* Repetition (logit > 0: divided by repeat, else multiplied; 1 or <= 0: off), frequency and presence
 * penalties over the last_n accepted tokens (-1: all kept, up to 4096; 0: none), as vkslm_generate_params.
 * last_n below -1 or a NaN penalty: refused. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_penalties(int32_t last_n, float repeat, float frequency, float presence);
/* Adds each bias to its token's logit (a token listed twice gets the sum; one that is not a candidate is
 * ignored). Refused: biases NULL with n > 0, a token < 0, a NaN or +inf bias. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_logit_bias(size_t n, const vkslm_logit_bias *biases);
VKSLM_API vkslm_sampler *vkslm_sampler_init_hook(const vkslm_sampler_hook *hook); /* copies *hook; NULL: refused */
/* Applies the sampler to cur (a stage, or every stage of a chain in order). */
VKSLM_API void vkslm_sampler_apply(vkslm_sampler *sampler, vkslm_token_data_array *cur);
/* Records a token for the stages that remember (penalties, hooks). */
VKSLM_API void vkslm_sampler_accept(vkslm_sampler *sampler, int32_t token);
/* Forgets what was accepted (penalties), restarts the draws (dist), calls the hooks' reset. */
VKSLM_API void vkslm_sampler_reset(vkslm_sampler *sampler);
/* Frees a sampler (a chain with its stages). A stage inside a chain goes with the chain: freeing it alone
 * does nothing. */
VKSLM_API void vkslm_sampler_free(vkslm_sampler *sampler);
/* Picks a token from n_vocab logits (not modified; NaN counts as -inf) and accepts it. -1, with nothing
 * accepted, when no candidate is left above -inf, when no stage picked (a chain that ends with neither
 * greedy nor dist), or when logits is NULL; vkslm_last_error says which. The candidates are built in a
 * buffer the sampler owns (allocated by the first call, grown only for a larger n_vocab). */
VKSLM_API int32_t vkslm_sampler_sample_logits(vkslm_sampler *sampler, const float *logits, int32_t n_vocab);
/* The same from entry i of the session's last vkslm_decode (i as vkslm_logits_ith); -1 also when the
 * entry has no logits. */
VKSLM_API int32_t vkslm_sampler_sample(vkslm_sampler *sampler, vkslm_session *session, int32_t i);

/* ---- grammars and JSON schemas (docs/grammar.md) --------------------------------------------------- */
/* A stage that leaves only tokens continuing the grammar (docs/grammar.md); root NULL: "root". NULL with
 * vkslm_last_error (line:column) for a bad grammar. The stage sets the logit of every token whose text
 * cannot continue a string the grammar accepts to -INFINITY; end-of-generation tokens stay only while the
 * root rule is complete, and control tokens without text never stay. Accepting a token advances the
 * grammar (an end-of-generation token ends it); reset starts it again. Put it first in a chain so that
 * the later stages see only allowed tokens. The model must outlive the stage. */
VKSLM_API vkslm_sampler *vkslm_sampler_init_grammar(const vkslm_model *model, const char *grammar, const char *root);
/* JSON schema (text, len bytes) -> grammar text (docs/grammar.md, "JSON schemas") in *out, malloc'd: free it
 * with vkslm_string_free (or free). The grammar's root rule is "root"; it bounds whitespace between JSON
 * tokens to one space or newline. Errors (*out NULL): VKSLM_ERR_UNSUPPORTED naming the keyword for a
 * feature outside the documented subset, VKSLM_ERR_INVALID_ARG for bad JSON or a bad schema. The schema
 * {"type":"object"} gives any JSON object (JSON mode). */
VKSLM_API vkslm_status vkslm_json_schema_to_grammar(const char *schema, size_t len, char **out);
/* Frees a string the library returned (vkslm_json_schema_to_grammar's); NULL is a no-op. */
VKSLM_API void vkslm_string_free(char *s);

/* ---- generation -------------------------------------------------------------------------------- */
typedef enum vkslm_stop_reason {
    VKSLM_STOP_NONE = 0,
    VKSLM_STOP_EOG = 1,      /* the model produced an end-of-generation token (EOS, EOT, <|im_end|>, ...) */
    VKSLM_STOP_STRING = 2,   /* a stop string appeared (it is not part of the text) */
    VKSLM_STOP_LENGTH = 3,   /* max_tokens reached */
    VKSLM_STOP_CONTEXT = 4,  /* the context is full */
    VKSLM_STOP_CALLBACK = 5  /* on_token returned false */
} vkslm_stop_reason;
VKSLM_API const char *vkslm_stop_reason_str(vkslm_stop_reason reason); /* "eog", "stop", "length", ... */

/* Receives each new piece of text (valid UTF-8, whole characters: the bytes of a character split over
 * tokens wait for the token that completes it; bytes that cannot form one become U+FFFD); return false to
 * stop. Stop strings are matched against this text. */
typedef bool (*vkslm_on_token_fn)(const char *piece, void *user_data);

/* A generated token's log-probability and its most likely alternatives (vkslm_generate_params.logprobs).
 * Log-probabilities are the log-softmax of the model's raw logits at that step, before any sampler stage
 * (logit bias, penalties, top-k/p, min-p, temperature): what the model predicts, not the distribution the
 * token was drawn from. NaN logits count as -inf; a token whose logit is -inf has logprob -INFINITY. */
#define VKSLM_MAX_TOP_LOGPROBS 20
typedef struct vkslm_token_logprobs {
    int32_t token;                                /* the generated token */
    float logprob;                                /* its log-probability (<= 0) */
    int32_t n_top;                                /* entries in top_ids (top_logprobs, fewer when fewer tokens
                                                   * have a logit above -inf) */
    int32_t top_ids[VKSLM_MAX_TOP_LOGPROBS];      /* the most likely tokens, best first (ties: lower id) */
    float top_logprobs[VKSLM_MAX_TOP_LOGPROBS];
} vkslm_token_logprobs;

/* As vkslm_on_token_fn, with the tokens generated since the previous call: ids[0..n) and, when
 * vkslm_generate_params.logprobs is set, their entries (else logprobs is NULL). A piece may come with no
 * token (text held back by a stop string or an unfinished character, released later) and tokens with an
 * empty piece: after the last piece, tokens not yet handed over (the one that completed a stop string, say)
 * come in one more call with piece "", whose return value is then ignored. Every generated token
 * (vkslm_generate_result.tokens) is handed over exactly once, in order. */
typedef bool (*vkslm_on_tokens_fn)(const char *piece, const int32_t *ids, const vkslm_token_logprobs *logprobs,
                                   size_t n, void *user_data);

/* Generation settings. temperature .. seed and logit_bias are the sampler's, applied in llama.cpp's order:
 * logit bias, penalties, top-k, top-p, min-p, temperature, then a seeded draw (greedy: the argmax after
 * bias and penalties, ties to the lowest id). */
typedef struct vkslm_generate_params {
    int32_t max_tokens;       /* 0: until the context is full */
    float temperature;        /* <= 0: greedy */
    int32_t top_k;            /* <= 0: off */
    float top_p;              /* >= 1 (or <= 0): off */
    float min_p;              /* <= 0: off; keeps tokens with p >= min_p * p_max */
    float repeat_penalty;     /* 1 (or <= 0): off; positive logits divided by it, negative multiplied */
    float frequency_penalty;  /* subtracted once per earlier occurrence */
    float presence_penalty;   /* subtracted once if the token occurred */
    int32_t penalty_last_n;   /* recent tokens the penalties look at; 0: none, -1: all kept (up to 4096) */
    uint64_t seed;            /* same seed and settings: same text */
    const char *const *stop;  /* stop strings */
    size_t n_stop;
    int add_bos;              /* -1: as the vocabulary says (only at the start of a session) */
    bool parse_special;       /* recognise control tokens in the prompt */
    vkslm_on_token_fn on_token;
    void *user_data;
    /* Record each generated token's log-probability (vkslm_generate_result.logprobs), with its top_logprobs
     * (0 .. VKSLM_MAX_TOP_LOGPROBS) most likely alternatives. Costs a pass over the logits per token, and
     * greedy decoding then reads the logits back instead of the device's argmax. */
    bool logprobs;
    int32_t top_logprobs;
    /* Added to the logits before every other sampler stage (a token listed twice gets the sum; -INFINITY
     * bans a token); each token must be inside the vocabulary (else VKSLM_ERR_INVALID_ARG). Borrowed for
     * the call. */
    const vkslm_logit_bias *logit_bias;
    size_t n_logit_bias;
    /* When set, called instead of on_token (with user_data), the pieces' tokens and logprobs beside them. */
    vkslm_on_tokens_fn on_tokens;
    const char *grammar;      /* grammar text (docs/grammar.md); NULL: unconstrained. A bad one: generate fails
                               * with VKSLM_ERR_INVALID_ARG and its message. Its stage comes first in the chain */
    const char *grammar_root; /* the grammar's start rule; NULL: "root" */
} vkslm_generate_params;

/* Greedy (temperature 0), no penalties, max_tokens 128, add_bos -1. */
VKSLM_API vkslm_generate_params vkslm_generate_default_params(void);
/* The chain vkslm_generate uses for these settings (logit bias, penalties, top-k, top-p, min-p, temperature,
 * then dist; bias and penalties then greedy when temperature <= 0; stages that are off are left out). params
 * NULL: the defaults. NULL (with vkslm_last_error) for a NaN setting, temperature +inf, or a bad logit bias
 * (as vkslm_sampler_init_logit_bias). */
VKSLM_API vkslm_sampler *vkslm_sampler_init_from_params(const vkslm_generate_params *params);

typedef struct vkslm_generate_result {
    vkslm_stop_reason stop_reason;
    const int32_t *prompt_tokens; /* the prompt's ids (BOS included when added); valid until the next call */
    size_t n_prompt_tokens;
    size_t n_cached_tokens;       /* of them, those found in the KV cache already and not computed again */
    const int32_t *tokens;        /* generated ids, valid until the next call on the session */
    size_t n_tokens;
    const char *text;             /* generated text (valid UTF-8), NUL-terminated, stop string excluded */
    size_t text_len;
    double prefill_ms, decode_ms; /* wall time of the prompt and of the generated tokens */
    double pp_tps, tg_tps;        /* prompt tokens per second, generated tokens per second */
    /* With params.logprobs: n_tokens entries, one per generated token (the one that completed a stop
     * string included, as in tokens), valid until the next call on the session; else NULL. */
    const vkslm_token_logprobs *logprobs;
} vkslm_generate_result;

/* Tokenizes the prompt, feeds it after what the session holds, and generates. result may be NULL. */
VKSLM_API vkslm_status vkslm_generate(vkslm_session *session, const char *prompt, const vkslm_generate_params *params,
                                     vkslm_generate_result *result);
/* As vkslm_generate, from token ids instead of text (vkslm_chat_tokenize's, say): nothing is tokenized,
 * so params->add_bos and params->parse_special do not apply, and result->prompt_tokens are a copy of
 * ids[0..n). n may be 0 to go on from what the session holds. */
VKSLM_API vkslm_status vkslm_generate_tokens(vkslm_session *session, const int32_t *ids, size_t n,
                                            const vkslm_generate_params *params, vkslm_generate_result *result);

/* ---- many requests on one model: the scheduler (continuous batching) ----------------------------- */
/* A scheduler runs the requests of many threads on one model together: one session of n_seq sequences
 * and a thread that steps them. Each step carries one token of every sequence that is decoding plus, up
 * to max_prefill tokens, the prompt chunks of sequences that are starting, so requests join at the next
 * step and leave when they finish; a long prompt is prefilled over several steps and stalls decoding
 * sequences for at most one step of max_prefill tokens at a time. Prompts are matched against what free
 * sequences still hold (a chat's earlier turns, a shared system prompt): the longest common prefix is kept
 * and only the rest is computed (vkslm_generate_result.n_cached_tokens); the least recently used free
 * sequence is overwritten first. A prompt that begins like what a running request's sequence holds, for
 * longer than any free sequence's match, gets that prefix by a device copy of its KV (vkslm_seq_cp) instead
 * of computing it (vkslm_sequence_prefill). Greedy output does not depend on what else runs in the step. */
typedef struct vkslm_scheduler vkslm_scheduler;
typedef struct vkslm_sequence vkslm_sequence; /* one request's handle: a sequence lent by the scheduler */

typedef struct vkslm_scheduler_params {
    uint32_t n_seq;       /* requests generating at once (KV cache slots); 0: 4 */
    uint32_t n_ctx;       /* tokens per sequence; 0: vkslm_model_default_n_ctx */
    uint32_t n_batch;     /* rows per step at most; 0: 64 */
    uint32_t max_prefill; /* prompt tokens per step while other sequences decode; 0: n_batch */
    bool kv_f32;
} vkslm_scheduler_params;

typedef struct vkslm_scheduler_stats {
    uint64_t steps;           /* device steps run */
    uint64_t rows;            /* tokens computed in them */
    uint64_t decode_rows;     /* of them, single tokens of decoding sequences */
    uint64_t cached_tokens;   /* prompt tokens found in the cache instead */
    uint32_t max_rows;        /* the largest step */
    uint32_t active;          /* sequences lent now */
} vkslm_scheduler_stats;

VKSLM_API vkslm_scheduler_params vkslm_scheduler_default_params(void);
/* Allocates the n_seq sequences' KV caches and starts the stepping thread. The model must outlive it. */
VKSLM_API vkslm_status vkslm_scheduler_create(vkslm_model *model, const vkslm_scheduler_params *params,
                                             vkslm_scheduler **out);
/* Every sequence must have been released. */
VKSLM_API void vkslm_scheduler_free(vkslm_scheduler *sched);
VKSLM_API uint64_t vkslm_scheduler_device_bytes(const vkslm_scheduler *sched);
VKSLM_API uint32_t vkslm_scheduler_n_seq(const vkslm_scheduler *sched);
VKSLM_API uint32_t vkslm_scheduler_n_ctx(const vkslm_scheduler *sched);
VKSLM_API void vkslm_scheduler_stats_get(vkslm_scheduler *sched, vkslm_scheduler_stats *out);
/* Lends a sequence; VKSLM_ERR_BUSY when all n_seq are lent (the orchestra queues requests before this). */
VKSLM_API vkslm_status vkslm_scheduler_acquire(vkslm_scheduler *sched, vkslm_sequence **out);
/* Gives the sequence back; what it holds stays cached for later prompts that begin the same way. */
VKSLM_API void vkslm_scheduler_release(vkslm_scheduler *sched, vkslm_sequence *seq);
VKSLM_API vkslm_model *vkslm_sequence_model(const vkslm_sequence *seq);
VKSLM_API uint32_t vkslm_sequence_n_ctx(const vkslm_sequence *seq);
/* As vkslm_generate_tokens, run in the scheduler's steps beside the other sequences' requests; blocks
 * until done. Sampling and on_token run on the calling thread between steps (return false to stop: the
 * sequence leaves the batch before the next step). Each call is a new request: ids are the whole context
 * (n >= 1); nothing carries over from the previous call except the cache. result as vkslm_generate's,
 * valid until the next call on seq or its release. One thread at a time per sequence. */
VKSLM_API vkslm_status vkslm_sequence_generate(vkslm_sequence *seq, const int32_t *ids, size_t n,
                                              const vkslm_generate_params *params, vkslm_generate_result *result);
/* Computes ids[0..n-1) into the cache of one of the scheduler's slots (all but the last token, which every
 * generate computes for its logits) and generates nothing; blocks until done. For several generations from
 * one prompt (n choices): prefill once, then run vkslm_sequence_generate on each sequence with the same ids,
 * at once: the first takes the prefilled slot, and the others, finding the prefix in a slot a running
 * request holds, get a device copy of its KV instead of computing it (vkslm_generate_result.n_cached_tokens
 * counts it). n < 2: nothing to do. *n_cached (may be NULL) gets the tokens of the prefix that were found in
 * the cache already (not computed). */
VKSLM_API vkslm_status vkslm_sequence_prefill(vkslm_sequence *seq, const int32_t *ids, size_t n, size_t *n_cached);

/* The adapters (vkslm_seq_set_lora's rules) of seq's next requests (generate, prefill, embed) until changed
 * or the sequence is released (release resets to none). Only a cache computed with the same adapters and
 * scales is reused for a prompt's prefix. */
VKSLM_API vkslm_status vkslm_sequence_set_lora(vkslm_sequence *seq, vkslm_lora *const *lora, const float *scales,
                                              size_t n);

/* As vkslm_embed_tokens, run by the scheduler's stepping thread beside the other sequences' requests (the
 * embedding's tokens join the steps as a prompt does, up to max_prefill per step); blocks until done.
 * Other sequences' results do not change. The tokens' KV cache is kept as a prompt's would be, so a later
 * prompt that begins with the same ids may reuse it. VKSLM_ERR_LIMIT when n exceeds the context. One thread
 * at a time per sequence. */
VKSLM_API vkslm_status vkslm_sequence_embed(vkslm_sequence *seq, const int32_t *ids, size_t n, vkslm_pooling pooling,
                                           float *out);

/* ---- the orchestra: expert models behind one router -------------------------------------------- */
/* Several specialised models ("experts") on one device under a memory budget. Each request is routed
 * to an expert (explicitly named, by a keyword/regex rule, by a small router model, or by lexical
 * similarity to the experts' examples); the expert's model loads on first use, the least recently used
 * idle one is evicted when the budget would be exceeded, and a request borrows one of the expert's
 * sessions. Thread-safe: route, acquire and release may be called from many threads at once. */
#define VKSLM_MAX_EXPERTS 32
typedef struct vkslm_orchestra vkslm_orchestra;

/* A LoRA adapter of an expert (vkslm_lora_load), applied at scale to every request the expert serves. */
typedef struct vkslm_expert_lora {
    const char *path;                  /* adapter GGUF file */
    float scale;                       /* user scale (vkslm_seq_set_lora's), finite */
} vkslm_expert_lora;

typedef struct vkslm_expert_desc {
    const char *name;                  /* unique; "auto" is reserved for routing */
    const char *model_path;            /* GGUF file; experts naming the same file share one loaded model: with
                                        * lora, the base that the adapters apply to (held once however many
                                        * adapter experts name it) */
    const char *role;                  /* what the expert is for, in words (routing reads it) */
    const char *const *examples;       /* typical requests (routing reads them) */
    size_t n_examples;
    const char *const *keywords;       /* rule: any of these as a whole word, case-insensitive */
    size_t n_keywords;
    const char *pattern;               /* rule: a PCRE2 regular expression (case-insensitive), or NULL */
    uint32_t n_ctx;                    /* context of the expert's sessions; 0: vkslm_model_default_n_ctx
                                        * (min(4096, the model's)), as every session */
    uint32_t max_sessions;             /* requests the expert serves at once (its scheduler's sequences); 0: 4 */
    uint32_t max_prefill;              /* prompt tokens per step beside decoding requests; 0: the scheduler's */
    const vkslm_expert_lora *lora;     /* adapters on the model (at most VKSLM_LORA_MAX_PER_SEQ), loaded with the
                                        * expert's sessions and counted in the budget beside the base; NULL */
    size_t n_lora;
} vkslm_expert_desc;

typedef struct vkslm_orchestra_params {
    const char *router_model;          /* GGUF of a small model for semantic routing; NULL: lexical */
    float min_confidence;              /* semantic/lexical share of the best expert below which the
                                        * fallback expert answers; 0: 0 (never) */
    const char *fallback;              /* expert name; NULL: the first expert */
    bool disable_rules;                /* ignore keywords and patterns */
    uint64_t memory_budget;            /* device bytes for all models' weights and sessions; 0: the device's */
    uint32_t max_queue;                /* requests that may wait for one expert; more get VKSLM_ERR_BUSY; 0: 64 */
    uint32_t queue_timeout_ms;         /* a request waits at most this long for a session; 0: 120000 */
    vkslm_model_params model;          /* how every model is loaded (device, validation) */
} vkslm_orchestra_params;

VKSLM_API vkslm_orchestra_params vkslm_orchestra_default_params(void);
/* Copies the descriptions; loads no expert model yet (the router model, if any, loads now). */
VKSLM_API vkslm_status vkslm_orchestra_create(const vkslm_expert_desc *experts, size_t n,
                                             const vkslm_orchestra_params *params, vkslm_orchestra **out);
/* Every session must have been released. */
VKSLM_API void vkslm_orchestra_free(vkslm_orchestra *orch);
VKSLM_API size_t vkslm_orchestra_n_experts(const vkslm_orchestra *orch);
VKSLM_API const char *vkslm_orchestra_expert_name(const vkslm_orchestra *orch, size_t expert);
VKSLM_API int vkslm_orchestra_find(const vkslm_orchestra *orch, const char *name); /* index or -1 */

typedef enum vkslm_route_method {
    VKSLM_ROUTE_EXPLICIT = 1,  /* the request named the expert */
    VKSLM_ROUTE_RULE = 2,      /* a keyword or pattern matched */
    VKSLM_ROUTE_SEMANTIC = 3,  /* the router model's label likelihoods */
    VKSLM_ROUTE_LEXICAL = 4,   /* BM25 similarity to each expert's role and examples */
    VKSLM_ROUTE_FALLBACK = 5   /* nothing was confident enough: the fallback expert */
} vkslm_route_method;
VKSLM_API const char *vkslm_route_method_str(vkslm_route_method method); /* "explicit", "rule", ... */

typedef struct vkslm_route_decision {
    int expert;                        /* the chosen expert */
    vkslm_route_method method;
    float confidence;                  /* the chosen expert's share (1 for explicit and rule) */
    size_t n_scores;                   /* = number of experts when scores were computed, else 0 */
    float scores[VKSLM_MAX_EXPERTS];   /* semantic: probabilities; lexical: BM25 shares (sum 1) */
    double route_ms;
} vkslm_route_decision;

/* Routes `text` (the request's words: for a chat, its messages). requested: an expert name, or NULL or
 * "auto" to route; an unknown name gives VKSLM_ERR_NOT_FOUND. */
VKSLM_API vkslm_status vkslm_orchestra_route(vkslm_orchestra *orch, const char *requested, const char *text,
                                            vkslm_route_decision *out);
/* Borrows a sequence of the expert's scheduler (vkslm_sequence_generate runs it in the batch beside the
 * expert's other requests; experts of one file share the model, each with its own scheduler), loading
 * its model first if needed (evicting the least recently used idle models to stay in the budget) and
 * waiting while all its max_sessions sequences are lent. VKSLM_ERR_BUSY when max_queue requests wait
 * already or the wait times out; VKSLM_ERR_OUT_OF_DEVICE_MEMORY when the model cannot fit the budget even
 * alone. The KV caches of all max_sessions sequences (n_ctx tokens each) are counted in the budget. */
VKSLM_API vkslm_status vkslm_orchestra_acquire(vkslm_orchestra *orch, size_t expert, vkslm_sequence **out);
/* Gives the sequence back (what it holds stays cached for prompts that begin the same way). */
VKSLM_API void vkslm_orchestra_release(vkslm_orchestra *orch, size_t expert, vkslm_sequence *seq);
/* For shutdown: acquire calls waiting for a session, and any made later, fail at once with VKSLM_ERR_BUSY.
 * Sessions already lent stay lent until released. */
VKSLM_API void vkslm_orchestra_shutdown(vkslm_orchestra *orch);

typedef struct vkslm_expert_stats {
    bool loaded;
    uint32_t loads, evictions;         /* of the expert's model */
    uint32_t active, waiting, sessions;/* requests served now, requests waiting, sequences of its scheduler */
    uint32_t n_ctx;                    /* context of its sessions (0 until first loaded) */
    uint64_t device_bytes;             /* its model's weights and sessions (shared by experts of one file), and
                                        * the adapters of every expert on it */
    uint64_t lora_bytes;               /* its own adapters (while loaded) */
} vkslm_expert_stats;
VKSLM_API vkslm_status vkslm_orchestra_expert_stats(vkslm_orchestra *orch, size_t expert, vkslm_expert_stats *out);
/* Device bytes of all loaded models' weights and sessions (router included), and the budget. All models
 * share one Vulkan device context (memory, queue, pipelines), opened by the first load. */
VKSLM_API void vkslm_orchestra_memory(vkslm_orchestra *orch, uint64_t *used, uint64_t *budget);
/* Validation messages of every model loaded so far (evicted ones included). */
VKSLM_API uint32_t vkslm_orchestra_validation_messages(vkslm_orchestra *orch);

#ifdef __cplusplus
}
#endif
#endif /* VKSLM_H */
