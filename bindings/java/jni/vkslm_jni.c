/* vkslm_jni.c: the JNI glue of dev.vkslm.Vkslm (bindings/java/src), over the public C API (vkslm.h) only.
 * The same file is what an Android app links through the NDK (bindings/java/README.md).
 *
 * Handles cross to Java as jlong. Text crosses as UTF-8 byte arrays that the Java side decodes, never through
 * NewStringUTF: that takes modified UTF-8, in which a 4-byte character (an emoji a model writes) is invalid and
 * Android's CheckJNI aborts the process. A failing C call becomes a dev.vkslm.Vkslm$VkslmException carrying
 * vkslm_last_error(); an exception thrown by the Java token callback stops the generation and propagates. */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vkslm.h>

/* classes and methods looked up once, at JNI_OnLoad (FindClass from a native thread would see only the system
 * class loader; these calls come from Java threads, but one lookup is cheaper anyway) */
static jclass g_exception, g_result, g_sink, g_string;
static jmethodID g_exception_init, g_result_init, g_sink_accept, g_string_init;

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (!local)
        return NULL;
    jclass global = (*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return global;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
        return JNI_ERR;
    if (!(g_exception = global_class(env, "dev/vkslm/Vkslm$VkslmException")) ||
        !(g_result = global_class(env, "dev/vkslm/Vkslm$Result")) ||
        !(g_sink = global_class(env, "dev/vkslm/Vkslm$Sink")) || !(g_string = global_class(env, "java/lang/String")))
        return JNI_ERR;
    g_exception_init = (*env)->GetMethodID(env, g_exception, "<init>", "(ILjava/lang/String;[B)V");
    g_result_init = (*env)->GetMethodID(env, g_result, "<init>", "([I[I[BLjava/lang/String;)V");
    g_sink_accept = (*env)->GetMethodID(env, g_sink, "accept", "([B[I)Z");
    g_string_init = (*env)->GetMethodID(env, g_string, "<init>", "([BLjava/lang/String;)V");
    if (!g_exception_init || !g_result_init || !g_sink_accept || !g_string_init)
        return JNI_ERR;
    return JNI_VERSION_1_6;
}

static void *ptr(jlong handle) { return (void *)(intptr_t)handle; }

static void drop(JNIEnv *env, jobject ref) {
    if (ref)
        (*env)->DeleteLocalRef(env, ref);
}
static jlong handle_of(const void *p) { return (jlong)(intptr_t)p; }

/* NULL (with an OutOfMemoryError pending) when Java is out of memory */
static jbyteArray bytes_of(JNIEnv *env, const char *s, size_t len) {
    if (len > INT32_MAX) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "vkslm text over 2 GiB");
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)len);
    if (a && len)
        (*env)->SetByteArrayRegion(env, a, 0, (jsize)len, (const jbyte *)s);
    return a;
}

static jintArray ints_of(JNIEnv *env, const int32_t *v, size_t n) {
    jintArray a = n > INT32_MAX ? NULL : (*env)->NewIntArray(env, (jsize)n);
    if (a && n)
        (*env)->SetIntArrayRegion(env, a, 0, (jsize)n, (const jint *)v);
    return a;
}

/* a Java String of UTF-8 text (through String(byte[], "UTF-8"), see the top of the file) */
static jstring string_of(JNIEnv *env, const char *s) {
    jbyteArray b = bytes_of(env, s ? s : "", s ? strlen(s) : 0);
    jstring charset = b ? (*env)->NewStringUTF(env, "UTF-8") : NULL;
    jstring out = charset ? (*env)->NewObject(env, g_string, g_string_init, b, charset) : NULL;
    drop(env, b);
    drop(env, charset);
    return out;
}

/* throws VkslmException(status, vkslm_last_error()) unless another exception is pending already */
static void throw_status(JNIEnv *env, vkslm_status st) {
    if ((*env)->ExceptionCheck(env))
        return;
    const char *msg = vkslm_last_error();
    jstring name = (*env)->NewStringUTF(env, vkslm_status_str(st)); /* ASCII names */
    jbyteArray bytes = name ? bytes_of(env, msg, strlen(msg)) : NULL;
    jthrowable ex = bytes ? (*env)->NewObject(env, g_exception, g_exception_init, (jint)st, name, bytes) : NULL;
    if (ex)
        (*env)->Throw(env, ex);
}

/* Java's byte[] holds the NUL-terminated UTF-8 that Vkslm.cString made; copied so that the C call may run
 * without pinning the array. NULL with an exception pending on failure. */
static char *c_string(JNIEnv *env, jbyteArray a) {
    jsize n = a ? (*env)->GetArrayLength(env, a) : 0;
    if (n < 1) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/IllegalArgumentException"), "empty C string");
        return NULL;
    }
    char *s = malloc((size_t)n);
    if (!s) {
        (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "vkslm_jni: string copy");
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n - 1] = '\0';
    return s;
}

/* a session for the model, both handed to Java as {model, session}; frees the model on failure */
static jlongArray with_session(JNIEnv *env, vkslm_status st, vkslm_model *model) {
    vkslm_session *session = NULL;
    if (st == VKSLM_OK)
        st = vkslm_session_create(model, NULL, &session);
    if (st != VKSLM_OK) {
        throw_status(env, st);
        vkslm_model_free(model);
        return NULL;
    }
    jlongArray out = (*env)->NewLongArray(env, 2);
    if (!out) {
        vkslm_session_free(session);
        vkslm_model_free(model);
        return NULL;
    }
    jlong h[2] = {handle_of(model), handle_of(session)};
    (*env)->SetLongArrayRegion(env, out, 0, 2, h);
    return out;
}

JNIEXPORT jstring JNICALL Java_dev_vkslm_Vkslm_version(JNIEnv *env, jclass cls) {
    (void)cls;
    return string_of(env, vkslm_version());
}

JNIEXPORT jlongArray JNICALL Java_dev_vkslm_Vkslm_nativeLoadPath(JNIEnv *env, jclass cls, jbyteArray path) {
    (void)cls;
    char *p = c_string(env, path);
    if (!p)
        return NULL;
    vkslm_model *model = NULL;
    vkslm_status st = vkslm_model_load(p, NULL, &model);
    free(p);
    return with_session(env, st, model);
}

JNIEXPORT jlongArray JNICALL Java_dev_vkslm_Vkslm_nativeLoadFd(JNIEnv *env, jclass cls, jint fd, jlong offset,
                                                               jlong length) {
    (void)cls;
    vkslm_model *model = NULL;
    vkslm_status st = vkslm_model_load_fd(fd, (uint64_t)offset, (uint64_t)length, NULL, &model);
    return with_session(env, st, model);
}

JNIEXPORT void JNICALL Java_dev_vkslm_Vkslm_nativeFree(JNIEnv *env, jclass cls, jlong model, jlong session) {
    (void)env, (void)cls;
    vkslm_session_free(ptr(session));
    vkslm_model_free(ptr(model));
}

JNIEXPORT jstring JNICALL Java_dev_vkslm_Vkslm_nativeArch(JNIEnv *env, jclass cls, jlong model) {
    (void)cls;
    return string_of(env, vkslm_model_arch(ptr(model)));
}

JNIEXPORT jstring JNICALL Java_dev_vkslm_Vkslm_nativeDeviceName(JNIEnv *env, jclass cls, jlong model) {
    (void)cls;
    return string_of(env, vkslm_model_device_name(ptr(model)));
}

JNIEXPORT jint JNICALL Java_dev_vkslm_Vkslm_nativeValidationMessages(JNIEnv *env, jclass cls, jlong model) {
    (void)env, (void)cls;
    uint32_t n = vkslm_model_validation_messages(ptr(model));
    return n > INT32_MAX ? INT32_MAX : (jint)n;
}

JNIEXPORT jint JNICALL Java_dev_vkslm_Vkslm_nativeNPast(JNIEnv *env, jclass cls, jlong session) {
    (void)env, (void)cls;
    return (jint)vkslm_session_n_past(ptr(session));
}

JNIEXPORT void JNICALL Java_dev_vkslm_Vkslm_nativeReset(JNIEnv *env, jclass cls, jlong session) {
    (void)cls;
    vkslm_status st = vkslm_session_rewind(ptr(session), 0);
    if (st != VKSLM_OK)
        throw_status(env, st);
}

typedef struct sink_call {
    JNIEnv *env;
    jobject sink;
} sink_call;

/* vkslm_on_tokens_fn: hands each piece and its ids to Sink.accept; a Java exception stops the generation */
static bool on_tokens(const char *piece, const int32_t *ids, const vkslm_token_logprobs *logprobs, size_t n,
                      void *user_data) {
    (void)logprobs;
    sink_call *c = user_data;
    JNIEnv *env = c->env;
    if ((*env)->ExceptionCheck(env))
        return false;
    jbyteArray b = bytes_of(env, piece, strlen(piece));
    jintArray i = b ? ints_of(env, ids, n) : NULL;
    jboolean go = i ? (*env)->CallBooleanMethod(env, c->sink, g_sink_accept, b, i) : JNI_FALSE;
    /* local references live until the native method returns: a long generation would fill the table */
    drop(env, b);
    drop(env, i);
    return go && !(*env)->ExceptionCheck(env);
}

JNIEXPORT jobject JNICALL Java_dev_vkslm_Vkslm_nativeGenerate(JNIEnv *env, jclass cls, jlong session, jbyteArray prompt,
                                                             jint max_tokens, jfloat temperature, jint top_k,
                                                             jfloat top_p, jfloat min_p, jlong seed, jobject sink) {
    (void)cls;
    char *p = c_string(env, prompt);
    if (!p)
        return NULL;
    sink_call call = {env, sink};
    vkslm_generate_params gp = vkslm_generate_default_params();
    gp.max_tokens = max_tokens;
    gp.temperature = temperature;
    gp.top_k = top_k;
    gp.top_p = top_p;
    gp.min_p = min_p;
    gp.seed = (uint64_t)seed;
    gp.on_tokens = on_tokens;
    gp.user_data = &call;
    vkslm_generate_result r;
    vkslm_status st = vkslm_generate(ptr(session), p, &gp, &r);
    free(p);
    if ((*env)->ExceptionCheck(env)) /* the callback threw (or Java ran out of memory): that is what Java sees */
        return NULL;
    if (st != VKSLM_OK) {
        throw_status(env, st);
        return NULL;
    }
    jintArray prompt_ids = ints_of(env, r.prompt_tokens, r.n_prompt_tokens);
    jintArray ids = prompt_ids ? ints_of(env, r.tokens, r.n_tokens) : NULL;
    jbyteArray text = ids ? bytes_of(env, r.text, r.text_len) : NULL;
    jstring reason = text ? (*env)->NewStringUTF(env, vkslm_stop_reason_str(r.stop_reason)) : NULL;
    if (!reason)
        return NULL;
    return (*env)->NewObject(env, g_result, g_result_init, prompt_ids, ids, text, reason);
}
