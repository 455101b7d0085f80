/* Chat templates: the render entry point of the interpreter, the built-in family templates (written in
 * the same Jinja subset), family detection by markers, and the public vkslm_chat_apply_template and
 * vkslm_chat_tokenize (which lets control tokens match only in the template's own text). */
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/api_internal.h"
#include "engine/tokenizer/chat_template_internal.h"
#include "engine/util/alloc.h"

/* The runs of tainted bytes of mask[0..n) as spans (malloc'd, NULL when none). */
static vkslm_status ct_mask_spans(const uint8_t *mask, size_t n, vkslm_chat_span **spans, size_t *n_spans) {
    *spans = NULL;
    *n_spans = 0;
    size_t count = 0;
    for (size_t i = 0; mask && i < n; i++)
        count += mask[i] && (i == 0 || !mask[i - 1]);
    if (count == 0)
        return VKSLM_OK;
    vkslm_chat_span *v = VKSLM_MALLOC(count * sizeof *v);
    if (!v)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (!mask[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && mask[j])
            j++;
        v[k].off = i;
        v[k].len = j - i;
        k++;
        i = j;
    }
    *spans = v;
    *n_spans = count;
    return VKSLM_OK;
}

_Noreturn static void ct_json_refuse(ct_ctx *c, const char *why) {
    vkslm_fail(VKSLM_ERR_INVALID_ARG, "chat template: %s", why);
    c->status = VKSLM_ERR_INVALID_ARG;
    longjmp(c->jmp, 1);
}

/* Whether the template's code reads a variable of that name (tools: one that never does would drop them). */
static bool ct_names_variable(const ct_ctx *c, const char *name) {
    for (size_t i = 0; i < c->n_toks; i++)
        if (c->toks[i].kind == CT_TOK_NAME && vkslm_ct_str_eq(c->toks[i].s, name))
            return true;
    return false;
}

/* The messages JSON as the `messages` list: an array of objects with a "role" string each. The roles are
 * template text (not content), as vkslm_chat_message's are. */
static ct_value ct_json_messages(ct_ctx *c, const char *json) {
    ct_value list = vkslm_ct_from_json(c, json, "messages", true);
    if (list.kind != CT_LIST)
        ct_json_refuse(c, "the messages JSON must be an array");
    for (size_t i = 0; i < list.u.l->n; i++) {
        ct_value m = list.u.l->v[i];
        ct_value *role = m.kind == CT_DICT ? vkslm_ct_dict_get(m.u.d, ct_cstr("role")) : NULL;
        if (!role || role->kind != CT_STR)
            ct_json_refuse(c, "every message must be an object with a \"role\" string");
        role->u.s.m = NULL;
    }
    return list;
}

vkslm_status vkslm_chat_template_render(const char *tmpl, size_t len, const vkslm_chat_message *msgs, size_t n,
                                        const vkslm_chat_render_params *p, char **out, size_t *out_len) {
    return vkslm_chat_template_render_spans(tmpl, len, msgs, n, p, out, out_len, NULL, NULL);
}

vkslm_status vkslm_chat_template_render_spans(const char *tmpl, size_t len, const vkslm_chat_message *msgs, size_t n,
                                              const vkslm_chat_render_params *p, char **out, size_t *out_len,
                                              vkslm_chat_span **content, size_t *n_content) {
    if (!tmpl || !out || !out_len || (n && !msgs) || (content && !n_content))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "chat template: NULL argument");
    *out = NULL;
    *out_len = 0;
    if (content) {
        *content = NULL;
        *n_content = 0;
    }
    if (len > VKSLM_CHAT_MAX_OUTPUT)
        return vkslm_fail(VKSLM_ERR_TOO_COMPLEX, "chat template: the template is longer than %u MiB",
                          VKSLM_CHAT_MAX_OUTPUT >> 20);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role)
            return vkslm_fail(VKSLM_ERR_INVALID_ARG, "chat template: message %zu has no role", i);
    ct_ctx *c = VKSLM_CALLOC(1, sizeof *c);
    if (!c)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (setjmp(c->jmp)) {
        vkslm_status st = c->status;
        VKSLM_FREE(c->out);
        VKSLM_FREE(c->out_mask);
        vkslm_ct_arena_free(c);
        VKSLM_FREE(c);
        return st;
    }
    /* Jinja normalises newlines to \n and drops one trailing newline (keep_trailing_newline off) */
    char *src = vkslm_ct_alloc(c, len + 1);
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (tmpl[i] == '\r') {
            src[m++] = '\n';
            if (i + 1 < len && tmpl[i + 1] == '\n')
                i++;
        } else {
            src[m++] = tmpl[i];
        }
    }
    if (m && src[m - 1] == '\n')
        m--;
    c->src = src;
    c->src_len = m;
    c->now = p ? p->now : 0;

    vkslm_ct_lex(c);
    size_t n_body;
    ct_node **body = vkslm_ct_parse(c, &n_body);

    ct_scope *root = vkslm_ct_alloc(c, sizeof *root);
    c->scope = root;
    ct_value list = vkslm_ct_new_list(c);
    if (p && p->messages_json)
        list = ct_json_messages(c, p->messages_json);
    for (size_t i = 0; i < n && !(p && p->messages_json); i++) {
        ct_value msg = vkslm_ct_new_dict(c);
        vkslm_ct_dict_set(c, msg.u.d, ct_cstr("role"), vkslm_ct_string(ct_cstr(msgs[i].role)));
        /* content is tainted byte for byte: the rendering says which of its bytes a message wrote */
        ct_value text = vkslm_ct_none();
        if (msgs[i].content)
            text = vkslm_ct_string(vkslm_ct_str_taint_all(c, ct_cstr(msgs[i].content), true));
        vkslm_ct_dict_set(c, msg.u.d, ct_cstr("content"), text);
        vkslm_ct_list_push(c, list.u.l, msg);
    }
    vkslm_ct_assign(c, ct_cstr("messages"), list);
    vkslm_ct_assign(c, ct_cstr("bos_token"), vkslm_ct_string(ct_cstr(p && p->bos_token ? p->bos_token : "")));
    vkslm_ct_assign(c, ct_cstr("eos_token"), vkslm_ct_string(ct_cstr(p && p->eos_token ? p->eos_token : "")));
    vkslm_ct_assign(c, ct_cstr("add_generation_prompt"), vkslm_ct_bool(p && p->add_generation_prompt));
    ct_value tools = vkslm_ct_none(); /* as transformers passes them without tools */
    if (p && p->tools_json) {
        if (!ct_names_variable(c, "tools")) {
            vkslm_fail(VKSLM_ERR_INVALID_ARG, "the chat template does not take tools (it never reads `tools`)");
            c->status = VKSLM_ERR_INVALID_ARG;
            longjmp(c->jmp, 1);
        }
        tools = vkslm_ct_from_json(c, p->tools_json, "tools", true);
        if (tools.kind != CT_LIST)
            ct_json_refuse(c, "the tools JSON must be an array");
    }
    vkslm_ct_assign(c, ct_cstr("tools"), tools);
    vkslm_ct_assign(c, ct_cstr("documents"), vkslm_ct_none());
    ct_scope *top = vkslm_ct_alloc(c, sizeof *top); /* the template's own variables shadow the context's */
    top->parent = root;
    c->scope = top;

    vkslm_ct_exec_body(c, body, n_body);

    if (!c->out) {
        c->out = VKSLM_MALLOC(1);
        if (!c->out)
            vkslm_ct_fail(c, VKSLM_ERR_OUT_OF_HOST_MEMORY, 0, "out of host memory");
        c->out[0] = 0;
    }
    vkslm_status st = content ? ct_mask_spans(c->out_mask, c->out_len, content, n_content) : VKSLM_OK;
    if (st == VKSLM_OK) {
        *out = c->out;
        *out_len = c->out_len;
    } else {
        VKSLM_FREE(c->out);
    }
    VKSLM_FREE(c->out_mask);
    vkslm_ct_arena_free(c);
    VKSLM_FREE(c);
    return st;
}

/* ---- families --------------------------------------------------------------------------------- */
static const struct {
    const char *name;
    const char *tmpl;
} ct_families[] = {
    {"chatml",
     "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
    {"llama3",
     "{{ bos_token }}{% for m in messages %}"
     "{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' + m.content | trim + '<|eot_id|>' }}"
     "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
    {"llama2",
     "{% set ns = namespace(sys='') %}{% for m in messages %}{% if m.role == 'system' %}"
     "{% set ns.sys = '<<SYS>>\\n' + m.content + '\\n<</SYS>>\\n\\n' %}"
     "{% elif m.role == 'user' %}{{ bos_token + '[INST] ' + ns.sys + m.content | trim + ' [/INST]' }}"
     "{% set ns.sys = '' %}{% else %}{{ ' ' + m.content | trim + ' ' + eos_token }}{% endif %}{% endfor %}"},
    {"mistral",
     "{% set ns = namespace(sys='') %}{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}"
     "{% set ns.sys = m.content + '\\n\\n' %}{% elif m.role == 'user' %}"
     "{{ '[INST]' + (ns.sys if loop.last else '') + m.content + '[/INST]' }}"
     "{% else %}{{ m.content + eos_token }}{% endif %}{% endfor %}"},
    {"phi3",
     "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + '<|end|>\\n' }}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"},
    /* Gemma has no system role: a system message is put in front of the first user turn */
    {"gemma",
     "{% set ns = namespace(sys='') %}{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}"
     "{% set ns.sys = ns.sys + m.content | trim + '\\n\\n' %}{% else %}"
     "{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else m.role) + '\\n' + "
     "(ns.sys if m.role == 'user' else '') + m.content | trim + '<end_of_turn>\\n' }}"
     "{% if m.role == 'user' %}{% set ns.sys = '' %}{% endif %}{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"},
    {"deepseek",
     "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}{% endif %}{% endfor %}"
     "{% for m in messages %}{% if m.role == 'user' %}{{ '<\xef\xbd\x9cUser\xef\xbd\x9c>' + m.content }}"
     "{% elif m.role == 'assistant' %}{% set content = m.content %}"
     "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
     "{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>' + content + eos_token }}{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}{{ '<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\\n' }}{% endif %}"},
};

const char *vkslm_chat_family_template(const char *name) {
    for (size_t i = 0; name && i < sizeof ct_families / sizeof ct_families[0]; i++)
        if (strcmp(name, ct_families[i].name) == 0)
            return ct_families[i].tmpl;
    return NULL;
}

const char *vkslm_chat_family_names(void) { return "chatml, llama3, llama2, mistral, phi3, gemma, deepseek"; }

static bool ct_contains_str(const char *s, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

const char *vkslm_chat_family_detect(const char *t, size_t n) {
    if (!t)
        return NULL;
    if (ct_contains_str(t, n, "<|im_start|>")) return "chatml";
    if (ct_contains_str(t, n, "<|start_header_id|>")) return "llama3";
    if (ct_contains_str(t, n, "<start_of_turn>")) return "gemma";
    if (ct_contains_str(t, n, "<|assistant|>") && ct_contains_str(t, n, "<|end|>")) return "phi3";
    if (ct_contains_str(t, n, "<\xef\xbd\x9cUser\xef\xbd\x9c>")) return "deepseek";
    if (ct_contains_str(t, n, "[INST]") && ct_contains_str(t, n, "<<SYS>>")) return "llama2";
    if (ct_contains_str(t, n, "[INST]")) return "mistral";
    return NULL;
}

vkslm_status vkslm_chat_tokenize_rendering(const vkslm_tokenizer *tok, const char *text, size_t len,
                                           const vkslm_chat_span *content, size_t n_content,
                                           bool parse_special_in_content, int32_t *ids, size_t cap, size_t *n_ids) {
    if (parse_special_in_content)
        return vkslm_tokenize(tok, text, len, 0, 1, ids, cap, n_ids);
    if (n_content && !content)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "chat tokenize: NULL content spans");
    /* control tokens may match in the template's text: the complement of the content spans */
    vkslm_text_range *allowed = VKSLM_MALLOC((n_content + 1) * sizeof *allowed);
    if (!allowed)
        return vkslm_fail(VKSLM_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    size_t at = 0, n_allowed = 0;
    for (size_t i = 0; i <= n_content; i++) {
        size_t end = i < n_content ? content[i].off : len;
        if (end > at)
            allowed[n_allowed++] = (vkslm_text_range){at, end - at};
        if (i < n_content)
            at = content[i].off + content[i].len;
    }
    vkslm_status st = vkslm_tokenize_ranges(tok, text, len, 0, 1, allowed, n_allowed, ids, cap, n_ids);
    VKSLM_FREE(allowed);
    return st;
}

/* ---- public API ------------------------------------------------------------------------------- */
VKSLM_API const char *vkslm_model_chat_template(const vkslm_model *model, size_t *len) {
    if (len)
        *len = model && model->chat_template.ptr ? (size_t)model->chat_template.len : 0;
    return model ? model->chat_template.ptr : NULL;
}

static const char *ct_token_text(const vkslm_model *model, int32_t id, char *buf, size_t cap) {
    size_t n = 0;
    const char *t = (model && id >= 0) ? vkslm_token_text(model->tok, id, &n) : NULL;
    if (!t || n >= cap)
        n = 0;
    if (n)
        memcpy(buf, t, n);
    buf[n] = 0;
    return buf;
}

/* Renders msgs through the template that template_override names (or the model's own, falling back to the
 * family its markers show when the interpreter cannot render it): *text malloc'd, and the content spans
 * when content is not NULL. */
static vkslm_status ct_render_for_model(const vkslm_model *model, const char *template_override,
                                        const vkslm_chat_message *msgs, size_t n, const char *messages_json,
                                        const char *tools_json, bool add_generation_prompt, char **text,
                                        size_t *text_len, vkslm_chat_span **content, size_t *n_content) {
    char bos[256], eos[256];
    vkslm_chat_render_params p = {
        .bos_token = ct_token_text(model, model ? vkslm_token_bos(model->tok) : -1, bos, sizeof bos),
        .eos_token = ct_token_text(model, model ? vkslm_token_eos(model->tok) : -1, eos, sizeof eos),
        .add_generation_prompt = add_generation_prompt,
        .messages_json = messages_json,
        .tools_json = tools_json,
    };
    const char *tmpl = template_override;
    size_t tlen = 0;
    bool own = false;
    if (tmpl) {
        const char *family = vkslm_chat_family_template(tmpl);
        if (family)
            tmpl = family;
        tlen = strlen(tmpl);
    } else {
        tmpl = vkslm_model_chat_template(model, &tlen);
        if (!tmpl)
            return vkslm_fail(VKSLM_ERR_UNSUPPORTED,
                              "the model has no tokenizer.chat_template; choose a template (%s) or pass one",
                              vkslm_chat_family_names());
        own = true;
    }
    vkslm_status st = vkslm_chat_template_render_spans(tmpl, tlen, msgs, n, &p, text, text_len, content, n_content);
    if (own && (st == VKSLM_ERR_FORMAT || st == VKSLM_ERR_UNSUPPORTED)) {
        const char *family = vkslm_chat_family_detect(tmpl, tlen);
        if (family) {
            vkslm_log(VKSLM_LOG_WARN, "%s; rendering the built-in '%s' template instead", vkslm_last_error(), family);
            const char *ft = vkslm_chat_family_template(family);
            st = vkslm_chat_template_render_spans(ft, strlen(ft), msgs, n, &p, text, text_len, content, n_content);
        }
    }
    return st;
}

/* The rendering of msgs (or of messages_json and tools_json) into buf, as vkslm_chat_apply_template. */
static vkslm_status render_into(const vkslm_model *model, const char *template_override, const vkslm_chat_message *msgs,
                                size_t n, const char *messages_json, const char *tools_json, bool add_generation_prompt,
                                char *buf, size_t cap, size_t *len) {
    char *text;
    size_t text_len;
    vkslm_status st = ct_render_for_model(model, template_override, msgs, n, messages_json, tools_json,
                                          add_generation_prompt, &text, &text_len, NULL, NULL);
    if (st != VKSLM_OK)
        return st;
    if (len)
        *len = text_len;
    if (text_len + 1 > cap) {
        VKSLM_FREE(text);
        return vkslm_fail(VKSLM_ERR_LIMIT, "the rendered conversation needs %zu bytes, the buffer has %zu",
                          text_len + 1, cap);
    }
    memcpy(buf, text, text_len + 1);
    VKSLM_FREE(text);
    return VKSLM_OK;
}

/* The tokens of that rendering, as vkslm_chat_tokenize (*n_ids is set to 0 first by the callers). */
static vkslm_status tokenize_rendering(const vkslm_model *model, const char *template_override,
                                       const vkslm_chat_message *msgs, size_t n, const char *messages_json,
                                       const char *tools_json, bool add_generation_prompt,
                                       bool parse_special_in_content, int32_t *ids, size_t cap, size_t *n_ids) {
    char *text;
    size_t text_len, n_content = 0;
    vkslm_chat_span *content = NULL;
    vkslm_status st = ct_render_for_model(model, template_override, msgs, n, messages_json, tools_json,
                                          add_generation_prompt, &text, &text_len,
                                          parse_special_in_content ? NULL : &content, &n_content);
    if (st != VKSLM_OK)
        return st;
    st = vkslm_chat_tokenize_rendering(model->tok, text, text_len, content, n_content, parse_special_in_content, ids,
                                       cap, n_ids);
    VKSLM_FREE(content);
    VKSLM_FREE(text);
    return st;
}

VKSLM_API vkslm_status vkslm_chat_apply_template(const vkslm_model *model, const char *template_override,
                                                const vkslm_chat_message *msgs, size_t n,
                                                bool add_generation_prompt, char *buf, size_t cap, size_t *len) {
    if ((!model && !template_override) || (n && !msgs) || (cap && !buf))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_chat_apply_template: NULL argument");
    return render_into(model, template_override, msgs, n, NULL, NULL, add_generation_prompt, buf, cap, len);
}

VKSLM_API vkslm_status vkslm_chat_tokenize(const vkslm_model *model, const char *template_override,
                                          const vkslm_chat_message *msgs, size_t n, bool add_generation_prompt,
                                          bool parse_special_in_content, int32_t *ids, size_t cap, size_t *n_ids) {
    if (!model || (n && !msgs) || (cap && !ids) || !n_ids)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_chat_tokenize: NULL argument");
    *n_ids = 0;
    return tokenize_rendering(model, template_override, msgs, n, NULL, NULL, add_generation_prompt,
                              parse_special_in_content, ids, cap, n_ids);
}

VKSLM_API vkslm_status vkslm_chat_apply_template_json(const vkslm_model *model, const char *template_override,
                                                     const char *messages_json, const char *tools_json,
                                                     bool add_generation_prompt, char *buf, size_t cap, size_t *len) {
    if ((!model && !template_override) || !messages_json || (cap && !buf))
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_chat_apply_template_json: NULL argument");
    return render_into(model, template_override, NULL, 0, messages_json, tools_json, add_generation_prompt, buf,
                       cap, len);
}

VKSLM_API vkslm_status vkslm_chat_tokenize_json(const vkslm_model *model, const char *template_override,
                                               const char *messages_json, const char *tools_json,
                                               bool add_generation_prompt, bool parse_special_in_content,
                                               int32_t *ids, size_t cap, size_t *n_ids) {
    if (!model || !messages_json || (cap && !ids) || !n_ids)
        return vkslm_fail(VKSLM_ERR_INVALID_ARG, "vkslm_chat_tokenize_json: NULL argument");
    *n_ids = 0;
    return tokenize_rendering(model, template_override, NULL, 0, messages_json, tools_json, add_generation_prompt,
                              parse_special_in_content, ids, cap, n_ids);
}
