package dev.vkslm;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Java binding of vkslm's public C API (include/vkslm.h) through JNI: load a GGUF model, stream a generation.
 *
 * <pre>
 * try (Vkslm.Model model = Vkslm.Model.load("stories260K.gguf")) {
 *     Vkslm.Result r = model.generate("Once upon a time", new Vkslm.Options().maxTokens(32),
 *                                     (piece, ids) -&gt; { System.out.print(piece); return true; });
 * }
 * </pre>
 *
 * The native library is {@code libvkslm_jni.so}, found by {@link System#loadLibrary} on java.library.path (on
 * Android: the APK's jniLibs), or at the absolute path in the system property {@code dev.vkslm.library}.
 * Failures of the C API are thrown as {@link VkslmException} with vkslm_last_error()'s message.
 */
public final class Vkslm {
    static {
        String path = System.getProperty("dev.vkslm.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("vkslm_jni");
        }
    }

    private Vkslm() {}

    /** The library's version (vkslm_version). */
    public static native String version();

    /** A failing vkslm call: {@link #status()} is its vkslm_status code, the message vkslm_last_error()'s. */
    public static final class VkslmException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int status;

        /* called by the glue with the message's UTF-8 bytes (JNI's NewStringUTF takes modified UTF-8 only) */
        VkslmException(int status, String statusName, byte[] message) {
            super(statusName + ": " + new String(message, StandardCharsets.UTF_8));
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    /** Receives each new piece of generated text and the ids of the tokens generated since the previous call
     * (a piece may come with no id, held back text released later, and ids with an empty piece). Return false to
     * stop. An exception thrown here stops the generation and is rethrown by {@link Model#generate}. */
    @FunctionalInterface
    public interface TokenCallback {
        boolean onToken(String piece, int[] ids);
    }

    /** Generation settings (vkslm_generate_params); the defaults are greedy decoding of at most 128 tokens. */
    public static final class Options {
        int maxTokens = 128;
        float temperature = 0f;
        int topK = 0;
        float topP = 1f;
        float minP = 0f;
        long seed = 0;

        /** Tokens to generate; 0: until the context is full. */
        public Options maxTokens(int n) {
            if (n < 0) throw new IllegalArgumentException("maxTokens must be >= 0, got " + n);
            maxTokens = n;
            return this;
        }

        /** Sampling temperature; 0 (or less) is greedy. */
        public Options temperature(float t) {
            if (Float.isNaN(t)) throw new IllegalArgumentException("temperature is NaN");
            temperature = t;
            return this;
        }

        /** Keep the k most likely tokens; 0: off. */
        public Options topK(int k) {
            topK = k;
            return this;
        }

        /** Nucleus sampling; 1: off. */
        public Options topP(float p) {
            if (Float.isNaN(p)) throw new IllegalArgumentException("topP is NaN");
            topP = p;
            return this;
        }

        /** Keep tokens with p &gt;= minP * p_max; 0: off. */
        public Options minP(float p) {
            if (Float.isNaN(p)) throw new IllegalArgumentException("minP is NaN");
            minP = p;
            return this;
        }

        /** Same seed and settings: same text. */
        public Options seed(long s) {
            seed = s;
            return this;
        }
    }

    /** What a generation produced (vkslm_generate_result). */
    public static final class Result {
        /** The prompt's token ids, BOS included when added. */
        public final int[] promptTokens;
        /** The generated token ids. */
        public final int[] tokens;
        /** The generated text. */
        public final String text;
        /** "eog", "stop", "length", "context" or "callback" (vkslm_stop_reason_str). */
        public final String stopReason;

        Result(int[] promptTokens, int[] tokens, byte[] text, String stopReason) {
            this.promptTokens = promptTokens;
            this.tokens = tokens;
            this.text = new String(text, StandardCharsets.UTF_8);
            this.stopReason = stopReason;
        }
    }

    /* what the glue calls for each piece: the bytes are turned into a String here, as valid UTF-8 */
    static final class Sink {
        private final TokenCallback callback;

        Sink(TokenCallback callback) {
            this.callback = callback;
        }

        boolean accept(byte[] piece, int[] ids) {
            return callback == null || callback.onToken(new String(piece, StandardCharsets.UTF_8), ids);
        }
    }

    /** A model loaded onto a Vulkan device with one session (its KV cache) of the default context. Calls on
     * one Model are serialized; {@link #close} frees the device memory. */
    public static final class Model implements AutoCloseable {
        private long model;   /* vkslm_model * */
        private long session; /* vkslm_session * */

        private Model(long[] handles) {
            model = handles[0];
            session = handles[1];
        }

        /** Loads a GGUF file. */
        public static Model load(String path) {
            return new Model(nativeLoadPath(cString(path, "path")));
        }

        /** Loads the GGUF bytes at [offset, offset + length) of an open file descriptor (length 0: to the end).
         * On Android, an uncompressed asset: AssetFileDescriptor's getParcelFileDescriptor().getFd(),
         * getStartOffset() and getLength(). The descriptor stays the caller's and may be closed afterwards. */
        public static Model load(int fd, long offset, long length) {
            if (fd < 0 || offset < 0 || length < 0) {
                throw new IllegalArgumentException("bad descriptor range: fd " + fd + ", offset " + offset
                                                   + ", length " + length);
            }
            return new Model(nativeLoadFd(fd, offset, length));
        }

        /** The architecture ("llama", "qwen2", ...). */
        public synchronized String arch() {
            return nativeArch(handle());
        }

        /** The Vulkan device's name. */
        public synchronized String deviceName() {
            return nativeDeviceName(handle());
        }

        /** Validation-layer messages since loading (0 unless VKSLM_VALIDATE=1 turned the layer on). */
        public synchronized int validationMessages() {
            return nativeValidationMessages(handle());
        }

        /** Tokens in the session's context now. */
        public synchronized int nPast() {
            return nativeNPast(session());
        }

        /** Forgets the context: the next generate starts over (with BOS where the vocabulary adds one). */
        public synchronized void reset() {
            nativeReset(session());
        }

        /** Feeds the prompt after what the session holds and generates, handing each piece to callback (may be
         * null). Throws VkslmException when the C API fails, or what the callback threw. */
        public synchronized Result generate(String prompt, Options options, TokenCallback callback) {
            Options o = options != null ? options : new Options();
            return nativeGenerate(session(), cString(prompt, "prompt"), o.maxTokens, o.temperature, o.topK, o.topP,
                                  o.minP, o.seed, new Sink(callback));
        }

        /** Frees the session and the model; later calls throw IllegalStateException. Closing twice is a no-op. */
        @Override
        public synchronized void close() {
            if (model != 0) {
                nativeFree(model, session);
                model = 0;
                session = 0;
            }
        }

        private long handle() {
            if (model == 0) throw new IllegalStateException("vkslm model is closed");
            return model;
        }

        private long session() {
            handle();
            return session;
        }
    }

    /* NUL-terminated UTF-8 for the C API; a NUL inside would cut the text short, so it is refused */
    private static byte[] cString(String s, String what) {
        if (s == null) throw new NullPointerException(what);
        if (s.indexOf('\0') >= 0) throw new IllegalArgumentException(what + " contains a NUL character");
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(utf8, utf8.length + 1);
    }

    /* the glue (jni/vkslm_jni.c): handles travel as longs; load returns {model, session} */
    private static native long[] nativeLoadPath(byte[] path);
    private static native long[] nativeLoadFd(int fd, long offset, long length);
    private static native void nativeFree(long model, long session);
    private static native String nativeArch(long model);
    private static native String nativeDeviceName(long model);
    private static native int nativeValidationMessages(long model);
    private static native int nativeNPast(long session);
    private static native void nativeReset(long session);
    private static native Result nativeGenerate(long session, byte[] prompt, int maxTokens, float temperature,
                                                int topK, float topP, float minP, long seed, Sink sink);
}
