// vkslm serve through OpenAI's official Node client (the npm `openai` package, pinned in package.json):
// what a real client sends and parses, over real HTTP on 127.0.0.1. Run by tests/openai/run.sh (ctest
// test_server_openai_client), which installs nothing: scripts/install-deps.sh does.
// Environment: VKSLM (the CLI), VKSLM_TESTDATA (the shared test data folder), VKSLM_PROBE_SERVER_PRELOAD
// (LD_PRELOAD for the server alone: the ASan pass preloads libasan, which node must not get).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

const vkslm = process.env.VKSLM;
const data = process.env.VKSLM_TESTDATA;
assert.ok(vkslm && data, 'VKSLM and VKSLM_TESTDATA must be set');

let server, stderr = '', client, dir;

function startServer(args) {
    return new Promise((resolve, reject) => {
        const env = { ...process.env };
        delete env.LD_PRELOAD;
        if (process.env.VKSLM_PROBE_SERVER_PRELOAD) env.LD_PRELOAD = process.env.VKSLM_PROBE_SERVER_PRELOAD;
        const p = spawn(vkslm, ['serve', ...args, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        const timer = setTimeout(() => reject(new Error('no "listening on" line within 120 s:\n' + stderr)), 120000);
        p.stdout.on('data', (b) => {
            out += b;
            const m = /listening on http:\/\/([^:\s]+):(\d+)/.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve({ proc: p, base: `http://${m[1]}:${m[2]}` });
            }
        });
        p.stderr.on('data', (b) => { stderr += b; });
        p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`vkslm serve exited (${code}):\n${stderr}`)); });
    });
}

before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vkslm-openai-'));
    const config = {
        host: '127.0.0.1',
        router: { rules: false, fallback: 'stories' },
        experts: [
            { name: 'stories', model: join(data, 'models/stories260K.gguf'), template: 'chatml', context: 256,
              parallel: 4, role: 'short stories', sampling: { temperature: 0, max_tokens: 16 } },
            { name: 'qwen', model: join(data, 'models/tiny-qwen2-random.gguf'), context: 512, parallel: 2,
              role: 'code', sampling: { temperature: 0, max_tokens: 16 } },
        ],
    };
    writeFileSync(join(dir, 'orchestra.json'), JSON.stringify(config));
    server = await startServer(['--config', join(dir, 'orchestra.json')]);
    client = new OpenAI({ baseURL: server.base + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 120000 });
});

after(async () => {
    if (server) {
        server.proc.removeAllListeners('exit'); /* startServer's (it rejects), before ours is added */
        const exited = new Promise((resolve) => server.proc.once('exit', (code, sig) => resolve({ code, sig })));
        server.proc.kill('SIGTERM');
        const { code, sig } = await exited;
        assert.equal(sig, null, 'the server died of a signal:\n' + stderr);
        assert.equal(code, 0, 'the server exited ' + code + ':\n' + stderr);
        assert.doesNotMatch(stderr, /Sanitizer|runtime error:/, 'a sanitizer report:\n' + stderr);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
});

test('models.list names every expert', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    for (const want of ['stories', 'qwen']) assert.ok(ids.includes(want), `${want} in ${ids}`);
});

test('chat completion, whole: a message, usage and a finish reason', async () => {
    const r = await client.chat.completions.create({
        model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.prompt_tokens > 0);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion, streamed: the pieces join to the whole answer (greedy)', async () => {
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Lily had a dog' }], max_tokens: 12 };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    let text = '', finish = null;
    for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        const c = chunk.choices[0];
        if (c?.delta?.content) text += c.delta.content;
        if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(finish, whole.choices[0].finish_reason);
});

test('text completion', async () => {
    const r = await client.completions.create({ model: 'stories', prompt: 'The cat', max_tokens: 6 });
    assert.equal(r.object, 'text_completion');
    assert.equal(typeof r.choices[0].text, 'string');
    assert.ok(r.usage.completion_tokens <= 6);
});

test('an unknown model is a 404', async () => {
    await assert.rejects(
        client.chat.completions.create({ model: 'no-such-expert', messages: [{ role: 'user', content: 'hi' }] }),
        (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
});

test('an unsupported key is a 400 naming it, not ignored', async () => {
    await assert.rejects(
        client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }],
                                         audio: { voice: 'alloy', format: 'mp3' } }),
        (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'audio');
});

test('logprobs: the chosen token is among the top ones, every value <= 0', async () => {
    const r = await client.chat.completions.create({
        model: 'stories', messages: [{ role: 'user', content: 'Once upon' }], max_tokens: 4, logprobs: true,
        top_logprobs: 3,
    });
    const content = r.choices[0].logprobs.content;
    assert.ok(content.length > 0);
    for (const t of content) {
        assert.ok(t.logprob <= 0);
        assert.equal(t.top_logprobs.length, 3);
        assert.ok(t.top_logprobs.some((x) => x.token === t.token && Math.abs(x.logprob - t.logprob) < 1e-5));
    }
});

test('n = 2 with a seed: two choices, the same again on a second call', async () => {
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Tom saw a' }], n: 2, seed: 42,
                   temperature: 1, max_tokens: 8 };
    const a = await client.chat.completions.create(body), b = await client.chat.completions.create(body);
    assert.equal(a.choices.length, 2);
    assert.deepEqual(a.choices.map((c) => c.index).sort(), [0, 1]);
    assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});

test('embeddings: the client\'s default (base64, decoded by it) equals float; unit norm; usage', async () => {
    const input = ['A cat sat on the mat.', 'A dog ran.', 'A cat sat on the mat.'];
    const b64 = await client.embeddings.create({ model: 'stories', input });
    const flt = await client.embeddings.create({ model: 'stories', input, encoding_format: 'float' });
    assert.equal(b64.object, 'list');
    assert.equal(b64.model, 'stories');
    assert.equal(b64.data.length, 3);
    for (let i = 0; i < 3; i++) {
        assert.equal(b64.data[i].index, i);
        assert.equal(b64.data[i].embedding.length, 64);
        // the vectors are float32: JSON numbers print them to float precision, base64 carries them exactly
        assert.deepEqual(Array.from(b64.data[i].embedding), flt.data[i].embedding.map(Math.fround));
        const norm = Math.sqrt(flt.data[i].embedding.reduce((s, x) => s + x * x, 0));
        assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    }
    assert.deepEqual(flt.data[0].embedding, flt.data[2].embedding);
    assert.ok(b64.usage.prompt_tokens > 3);
    assert.equal(b64.usage.total_tokens, b64.usage.prompt_tokens);
    await assert.rejects(client.embeddings.create({ model: 'stories', input: 'x', dimensions: 3 }),
        (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'dimensions');
});

test('response_format json_schema: the answer parses and fits the schema; an unsupported keyword is a 400', async () => {
    const schema = {
        type: 'object', additionalProperties: false, required: ['ok', 'n'],
        properties: { ok: { type: 'boolean' }, n: { type: 'integer', minimum: 1, maximum: 3 } },
    };
    for (const seed of [1, 2, 3]) {
        const r = await client.chat.completions.create({
            model: 'qwen', messages: [{ role: 'user', content: 'JSON please' }], temperature: 1, seed, max_tokens: 48,
            response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema } },
        });
        assert.equal(r.choices[0].finish_reason, 'stop');
        const v = JSON.parse(r.choices[0].message.content);
        assert.deepEqual(Object.keys(v), ['ok', 'n']);
        assert.equal(typeof v.ok, 'boolean');
        assert.ok(Number.isInteger(v.n) && v.n >= 1 && v.n <= 3, `n = ${v.n}`);
    }
    await assert.rejects(
        client.chat.completions.create({
            model: 'qwen', messages: [{ role: 'user', content: 'hi' }],
            response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'uri' } } },
        }),
        (e) => e instanceof OpenAI.BadRequestError && e.param === 'response_format' && /'format'/.test(e.message));
});

test('without a seed each request samples afresh; with one it repeats', async () => {
    const body = { model: 'stories', messages: [{ role: 'user', content: 'Once upon a time' }], temperature: 1.5,
                   max_tokens: 16 };
    const texts = new Set();
    for (let i = 0; i < 4; i++) texts.add((await client.chat.completions.create(body)).choices[0].message.content);
    assert.ok(texts.size >= 2, `4 unseeded answers, all the same: ${[...texts]}`);
    const a = await client.chat.completions.create({ ...body, seed: 5 });
    const b = await client.chat.completions.create({ ...body, seed: 5 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

const weatherTool = {
    type: 'function',
    function: {
        name: 'get_weather', description: 'Weather in a city',
        parameters: {
            type: 'object', additionalProperties: false, required: ['location'],
            properties: { location: { type: 'string', maxLength: 12 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        },
    },
};

test('tools: a call and its result go back through the template', async () => {
    const r = await client.chat.completions.create({
        model: 'qwen', tools: [weatherTool], max_tokens: 4,
        messages: [
            { role: 'user', content: 'Weather in Paris?' },
            { role: 'assistant', content: null, tool_calls: [
                { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
            { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
    });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.ok(r.usage.prompt_tokens > 100, 'the tools are in the prompt');
});

test('tools: deprecated functions, and tools for a template without them, are 400s naming the key', async () => {
    await assert.rejects(
        client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }],
            functions: [weatherTool.function] }),
        (e) => e instanceof OpenAI.BadRequestError && e.param === 'functions');
    await assert.rejects(
        client.chat.completions.create({ model: 'stories', messages: [{ role: 'user', content: 'hi' }],
            tools: [weatherTool] }),
        (e) => e instanceof OpenAI.BadRequestError && /does not take tools/.test(e.message));
});

test('tools: tool_choice required gives calls whose arguments parse, whole and streamed', async () => {
    const body = {
        model: 'qwen', tools: [weatherTool], tool_choice: 'required', temperature: 1, seed: 3, max_tokens: 160,
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
    };
    const r = await client.chat.completions.create(body);
    const calls = r.choices[0].message.tool_calls;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.ok(calls.length >= 1);
    for (const call of calls) {
        assert.equal(call.type, 'function');
        assert.equal(call.function.name, 'get_weather');
        assert.equal(typeof JSON.parse(call.function.arguments).location, 'string');
    }
    // streamed (parallel calls allowed): the deltas of each index join to the whole answer's calls
    const stream = await client.chat.completions.create({ ...body, stream: true });
    const got = [];
    let finish = null;
    for await (const chunk of stream) {
        const c = chunk.choices[0];
        for (const d of c?.delta?.tool_calls ?? []) {
            got[d.index] ??= { name: '', arguments: '' };
            if (d.function?.name) got[d.index].name = d.function.name;
            if (d.function?.arguments) got[d.index].arguments += d.function.arguments;
        }
        if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(got, calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
});

test('serve -m with --api-key: the client\'s key is checked (401 AuthenticationError without the right one)', async () => {
    const key = 'sk-vkslm-test-0123456789';
    const second = await startServer(['-m', join(data, 'models/stories260K.gguf'), '--ctx', '128', '--api-key', key]);
    try {
        const opts = { baseURL: second.base + '/v1', maxRetries: 0, timeout: 120000 };
        const ok = new OpenAI({ ...opts, apiKey: key });
        const ids = [];
        for await (const m of ok.models.list()) ids.push(m.id);
        assert.ok(ids.includes('stories260K'), `${ids}`);
        const r = await ok.completions.create({ model: 'stories260K', prompt: 'Once', max_tokens: 4 });
        assert.equal(r.model, 'stories260K');
        await assert.rejects(new OpenAI({ ...opts, apiKey: key + 'x' }).models.list(),
            (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    } finally {
        second.proc.removeAllListeners('exit');
        const exited = new Promise((resolve) => second.proc.once('exit', (code, sig) => resolve({ code, sig })));
        second.proc.kill('SIGTERM');
        assert.deepEqual(await exited, { code: 0, sig: null });
    }
});
