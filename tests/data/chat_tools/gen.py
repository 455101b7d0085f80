#!/usr/bin/env python3
"""Reference renderings of the shipped chat templates with tools (README.md), made by Jinja2 configured as
Hugging Face transformers configures it for apply_chat_template."""
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.sandbox

MODELS = {  # template name: (bos_token, eos_token); only the templates that read `tools`
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def main():
    chat_dir, out_dir = sys.argv[1], sys.argv[2]
    with open(os.path.join(out_dir, "conversations.json"), encoding="utf-8") as f:
        data = json.load(f)
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: "23 Nov 2026"
    # the JSON the engine reads (json.dumps keeps 1250.0 a float, as the templates' tojson writes it)
    with open(os.path.join(out_dir, "tools.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(data["tools"], ensure_ascii=False))
    for conv, messages in data["conversations"].items():
        with open(os.path.join(out_dir, conv + ".messages.json"), "w", encoding="utf-8", newline="") as f:
            f.write(json.dumps(messages, ensure_ascii=False))
    for name, (bos, eos) in MODELS.items():
        with open(os.path.join(chat_dir, name + ".jinja"), encoding="utf-8") as f:
            tmpl = env.from_string(f.read())
        for conv, messages in data["conversations"].items():
            base = os.path.join(out_dir, "%s.%s" % (name, conv))
            try:
                text, ext = tmpl.render(messages=messages, tools=data["tools"], documents=None,
                                        add_generation_prompt=True, bos_token=bos, eos_token=eos), ".txt"
            except jinja2.exceptions.TemplateError as e:
                text, ext = str(e), ".refused"
            for stale in (".txt", ".refused"):
                if os.path.exists(base + stale):
                    os.remove(base + stale)
            with open(base + ext, "w", encoding="utf-8", newline="") as f:
                f.write(text)


if __name__ == "__main__":
    main()
