package dev.vkslm.test;

import dev.vkslm.Vkslm;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ctest test_gpu_jni (run by run.sh): the Java binding against the C API's greedy tokens.
 * Usage: JniTest MODEL FD OFFSET LENGTH PROMPT N_TOKENS EXPECTED_IDS
 *   FD: an open descriptor holding the model's bytes at [OFFSET, OFFSET + LENGTH), with other bytes around them;
 *   EXPECTED_IDS: comma-separated ids that `vkslm run --json` (vkslm_generate) gave for PROMPT, N_TOKENS greedy.
 */
public final class JniTest {
    private static int failures = 0;

    private static void check(boolean ok, String what) {
        System.out.println((ok ? "ok   " : "FAIL ") + what);
        if (!ok) failures++;
    }

    /* a generation through the callback: the ids and pieces it received, and the result */
    private static final class Streamed {
        final List<Integer> ids = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        int calls = 0;
        Vkslm.Result result;

        int[] idArray() {
            return ids.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    private static Streamed stream(Vkslm.Model model, String prompt, int n) {
        Streamed s = new Streamed();
        s.result = model.generate(prompt, new Vkslm.Options().maxTokens(n), (piece, ids) -> {
            s.calls++;
            s.text.append(piece);
            for (int id : ids) s.ids.add(id);
            return true;
        });
        return s;
    }

    private static void checkStream(Streamed s, int[] expected, String what) {
        check(Arrays.equals(s.idArray(), expected),
              what + ": streamed ids " + s.ids + " == the C API's " + Arrays.toString(expected));
        check(Arrays.equals(s.result.tokens, expected), what + ": result tokens == the C API's");
        check(s.text.toString().equals(s.result.text), what + ": streamed pieces join to the result text \""
              + s.result.text + "\"");
        check(s.calls >= 1 && "length".equals(s.result.stopReason), what + ": stop reason " + s.result.stopReason);
    }

    private static Vkslm.VkslmException expectVkslmFailure(Runnable r) {
        try {
            r.run();
        } catch (Vkslm.VkslmException e) {
            return e;
        }
        return null;
    }

    public static void main(String[] args) {
        if (args.length != 7) {
            System.err.println("usage: JniTest MODEL FD OFFSET LENGTH PROMPT N_TOKENS EXPECTED_IDS");
            System.exit(2);
        }
        String path = args[0], prompt = args[4];
        int fd = Integer.parseInt(args[1]), n = Integer.parseInt(args[5]);
        long offset = Long.parseLong(args[2]), length = Long.parseLong(args[3]);
        int[] expected = Arrays.stream(args[6].split(",")).mapToInt(Integer::parseInt).toArray();
        check(expected.length == n, "the C API generated " + n + " tokens (" + expected.length + ")");
        System.out.println("vkslm " + Vkslm.version());

        Vkslm.Model model = Vkslm.Model.load(path);
        try (Vkslm.Model m = model) {
            System.out.println(m.arch() + " on " + m.deviceName());
            check("llama".equals(m.arch()), "arch llama");
            Streamed s = stream(m, prompt, n);
            checkStream(s, expected, "path load");
            check(s.result.promptTokens.length > 0 && m.nPast() >= s.result.promptTokens.length + n - 1,
                  "the session holds the prompt and the generation (" + m.nPast() + " tokens)");

            // the same again after reset: greedy decoding is repeatable
            m.reset();
            check(m.nPast() == 0, "reset empties the context");
            checkStream(stream(m, prompt, n), expected, "after reset");

            // a callback that returns false stops the generation after its first token
            m.reset();
            Vkslm.Result stopped = m.generate(prompt, new Vkslm.Options().maxTokens(n), (piece, ids) -> ids.length == 0);
            check("callback".equals(stopped.stopReason) && stopped.tokens.length >= 1 && stopped.tokens.length < n
                  && stopped.tokens[0] == expected[0], "callback false stops: " + stopped.stopReason + " after "
                  + stopped.tokens.length + " tokens");

            // an exception in the callback stops the generation and reaches the caller as it was thrown
            m.reset();
            IllegalStateException thrown = new IllegalStateException("from the callback");
            Throwable caught = null;
            try {
                m.generate(prompt, new Vkslm.Options().maxTokens(n), (piece, ids) -> { throw thrown; });
            } catch (IllegalStateException e) {
                caught = e;
            }
            check(caught == thrown, "the callback's exception propagates");

            // text with a NUL would be cut short by the C API: refused
            boolean refused = false;
            try {
                m.generate("Once\0upon", null, null);
            } catch (IllegalArgumentException e) {
                refused = true;
            }
            check(refused, "a prompt with NUL is refused");
            check(m.validationMessages() == 0, "no validation messages (" + m.validationMessages() + ")");
        }
        boolean closed = false;
        try {
            model.generate(prompt, null, null);
        } catch (IllegalStateException e) {
            closed = true;
        }
        check(closed, "a closed model refuses generate");
        model.close(); // twice: a no-op

        // from a descriptor range (an Android asset's AssetFileDescriptor), same tokens
        try (Vkslm.Model m = Vkslm.Model.load(fd, offset, length)) {
            checkStream(stream(m, prompt, n), expected, "descriptor load");
            check(m.validationMessages() == 0, "no validation messages (descriptor load)");
        }

        // errors carry vkslm_last_error()
        String missing = path + ".missing";
        Vkslm.VkslmException e = expectVkslmFailure(() -> Vkslm.Model.load(missing).close());
        check(e != null && e.status() == 200 && e.getMessage().contains(missing),
              "a bad path throws VKSLM_ERR_IO naming it: " + (e == null ? "nothing thrown" : e.getMessage()));
        e = expectVkslmFailure(() -> Vkslm.Model.load(fd, 0, length).close());
        check(e != null && e.status() == 201, "a range that is not a GGUF file throws VKSLM_ERR_FORMAT: "
              + (e == null ? "nothing thrown" : e.getMessage()));

        if (failures > 0) {
            System.out.println(failures + " check(s) failed");
            System.exit(1);
        }
        System.out.println("all checks passed");
    }
}
