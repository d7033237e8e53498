/* The C API from C (C11): every group of nibble.h on the shipped model, the results
 * checked against the C++ API's (greedy ids of tests/data, the C++ Error messages).
 * Every handle is freed: the sanitizer build runs this with leak detection. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nibble/nibble.h"

/* From c_api_test_expect.cpp: what the C++ Model::load throws for `path` (0 if it loads). */
int nibble_test_cpp_load_error(const char* path, char* message, size_t capacity);

static int failures = 0, checks = 0;

#define CHECK(condition)                                                                                   \
    do {                                                                                                   \
        ++checks;                                                                                          \
        if (!(condition)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, __LINE__, #condition, \
                    nibble_last_error());                                                                  \
            ++failures;                                                                                    \
        }                                                                                                  \
    } while (0)

/* A call that must succeed for the rest of the test to make sense. */
#define REQUIRE_OK(call)                                                                                          \
    do {                                                                                                          \
        const nibble_status status_ = (call);                                                                     \
        if (status_ != NIBBLE_OK) {                                                                               \
            fprintf(stderr, "%s:%d: %s gave %s: %s\n", __FILE__, __LINE__, #call, nibble_status_name(status_), \
                    nibble_last_error());                                                                         \
            exit(1);                                                                                              \
        }                                                                                                         \
    } while (0)

static const char* const model_path = NIBBLE_SOURCE_DIR "/models/stories260K.gguf";
static const char* const prompt = "Once upon a time";

static char* read_whole_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t capacity = 4096, used = 0;
    char* bytes = malloc(capacity + 1);
    size_t got;
    while (bytes != NULL && (got = fread(bytes + used, 1, capacity - used, f)) > 0) {
        used += got;
        if (used == capacity) {
            char* larger = realloc(bytes, 2 * capacity + 1);
            if (larger == NULL) free(bytes);
            bytes = larger;
            capacity *= 2;
        }
    }
    fclose(f);
    if (bytes != NULL) bytes[used] = '\0';
    if (size != NULL) *size = used;
    return bytes;
}

/* tests/data/greedy_once_upon_a_time_64.ids: '#' lines skipped, then 5 prompt ids and
 * 64 ids per position (4 forced prompt tokens, then 60 generated). */
static size_t read_expected_ids(nibble_token* ids, size_t capacity) {
    char* text = read_whole_file(NIBBLE_SOURCE_DIR "/tests/data/greedy_once_upon_a_time_64.ids", NULL);
    size_t n = 0;
    if (text == NULL) return 0;
    for (char* line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char* end;
        for (long v = strtol(line, &end, 10); end != line && n < capacity; v = strtol(line, &end, 10)) {
            ids[n++] = (nibble_token)v;
            line = end;
        }
    }
    free(text);
    return n;
}

static int contains(const char* text, const char* part) { return text != NULL && strstr(text, part) != NULL; }

/* ---- callbacks ---- */

typedef struct {
    int calls;
    float last;
    int rising;
    float cancel_at; /* > 1: never */
} progress_state;

static int on_progress(float fraction, void* user_data) {
    progress_state* p = user_data;
    if (p->calls > 0 && fraction < p->last) p->rising = 0;
    p->last = fraction;
    ++p->calls;
    return fraction >= p->cancel_at ? 0 : 1;
}

typedef struct {
    char text[4096];
    size_t length;
    int pieces;
    int stop_after;               /* return 0 after this many pieces (0: never) */
    int cancel_after;             /* call nibble_session_cancel after this many (0: never) */
    nibble_session* session;
    int unterminated;             /* a piece without its NUL */
} stream_state;

static int on_piece(const char* piece, size_t length, void* user_data) {
    stream_state* s = user_data;
    if (piece[length] != '\0') s->unterminated = 1;
    if (s->length + length < sizeof s->text) {
        memcpy(s->text + s->length, piece, length);
        s->length += length;
        s->text[s->length] = '\0';
    }
    ++s->pieces;
    if (s->cancel_after > 0 && s->pieces == s->cancel_after) nibble_session_cancel(s->session);
    return s->stop_after > 0 && s->pieces >= s->stop_after ? 0 : 1;
}

static nibble_generate_options greedy(int max_tokens) {
    nibble_generate_options o = nibble_generate_options_default();
    o.max_tokens = max_tokens;
    o.sampling.temperature = 0.0f;
    o.stop_at_eos = false;
    return o;
}

static nibble_session* new_session(const nibble_model* model, uint32_t batch_size) {
    nibble_session_options o = nibble_session_options_default();
    o.threads = 1;
    if (batch_size > 0) o.batch_size = batch_size;
    nibble_session* session = NULL;
    REQUIRE_OK(nibble_session_create(model, &o, &session));
    return session;
}

/* ---- groups ---- */

static void test_library(void) {
    CHECK(strchr(nibble_version(), '.') != NULL);
    CHECK(strcmp(nibble_status_name(NIBBLE_OK), "ok") == 0);
    CHECK(strcmp(nibble_status_name(NIBBLE_BAD_FORMAT), "bad_format") == 0);
    CHECK(strcmp(nibble_status_name(NIBBLE_CANCELLED), "cancelled") == 0);
    CHECK(strcmp(nibble_status_name((nibble_status)99), "unknown") == 0);
}

static void test_null_arguments(const nibble_model* model) {
    nibble_model* none = (nibble_model*)1;
    CHECK(nibble_model_load(NULL, NULL, &none) == NIBBLE_INVALID_ARGUMENT);
    CHECK(none == NULL);
    CHECK(contains(nibble_last_error(), "nibble_model_load: path is NULL"));
    CHECK(nibble_model_load(model_path, NULL, NULL) == NIBBLE_INVALID_ARGUMENT);
    nibble_model_info info;
    CHECK(nibble_model_get_info(NULL, &info) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_model_get_info(model, NULL) == NIBBLE_INVALID_ARGUMENT);
    size_t n = 0;
    nibble_token ids[8];
    CHECK(nibble_tokenize(model, NULL, 3, NULL, ids, 8, &n) == NIBBLE_INVALID_ARGUMENT);
    CHECK(contains(nibble_last_error(), "text is NULL"));
    CHECK(nibble_tokenize(model, "abc", 3, NULL, ids, 8, NULL) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_tokenize(NULL, "abc", 3, NULL, ids, 8, &n) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_tokenize(model, NULL, 0, NULL, NULL, 0, &n) == NIBBLE_OK && n == 0);  /* empty text */
    CHECK(nibble_detokenize(model, NULL, 2, NULL, 0, &n) == NIBBLE_INVALID_ARGUMENT);
    nibble_session* session = (nibble_session*)1;
    CHECK(nibble_session_create(NULL, NULL, &session) == NIBBLE_INVALID_ARGUMENT && session == NULL);
    CHECK(nibble_session_create(model, NULL, NULL) == NIBBLE_INVALID_ARGUMENT);
    nibble_session_options bad = nibble_session_options_default();
    bad.on_full = (nibble_context_policy)7;
    CHECK(nibble_session_create(model, &bad, &session) == NIBBLE_INVALID_ARGUMENT);
    CHECK(contains(nibble_last_error(), "on_full 7"));
    bad = nibble_session_options_default();
    CHECK(bad.type_k == NIBBLE_CACHE_F16 && bad.type_v == NIBBLE_CACHE_F16);
    bad.type_v = (nibble_cache_type)9;
    CHECK(nibble_session_create(model, &bad, &session) == NIBBLE_INVALID_ARGUMENT);
    CHECK(contains(nibble_last_error(), "type_v 9"));
    bad = nibble_session_options_default();
    bad.type_k = NIBBLE_CACHE_Q8_0; /* the shipped model's key width is 32: q8_0 fits */
    bad.type_v = NIBBLE_CACHE_F32;
    CHECK(nibble_session_create(model, &bad, &session) == NIBBLE_OK);
    nibble_session_free(session);
    bad = nibble_session_options_default();
    bad.threads = -1;
    CHECK(nibble_session_create(model, &bad, &session) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_session_cancel(NULL) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_session_reset(NULL) == NIBBLE_INVALID_ARGUMENT);
    uint32_t position;
    CHECK(nibble_session_position(NULL, &position) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_generate(NULL, prompt, strlen(prompt), NULL, NULL) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_session_load_state(NULL, "x", 1) == NIBBLE_INVALID_ARGUMENT);
    CHECK(nibble_embed(NULL, "x", 1, NIBBLE_POOLING_MEAN, NULL, 0, &n) == NIBBLE_INVALID_ARGUMENT);
    nibble_model_free(NULL);  /* no-ops */
    nibble_session_free(NULL);
    nibble_chat_template_free(NULL);
}

static void expect_same_error_as_cpp(const char* path) {
    char expected[1024];
    const int code = nibble_test_cpp_load_error(path, expected, sizeof expected);
    CHECK(code != 0);
    nibble_model* model = NULL;
    const nibble_status status = nibble_model_load(path, NULL, &model);
    CHECK((int)status == code);
    CHECK(model == NULL);
    CHECK(strcmp(nibble_last_error(), expected) == 0);
    if (strcmp(nibble_last_error(), expected) != 0) fprintf(stderr, "  C: %s\n  C++: %s\n", nibble_last_error(), expected);
}

static void test_bad_files(void) {
    expect_same_error_as_cpp("c-api-no-such-model.gguf");
    FILE* junk = fopen("c-api-junk.gguf", "wb");
    CHECK(junk != NULL);
    if (junk == NULL) return;
    for (int i = 0; i < 100; ++i) fputs("this is not a model file\n", junk);
    fclose(junk);
    expect_same_error_as_cpp("c-api-junk.gguf");
    remove("c-api-junk.gguf");
}

static void test_load_progress(void) {
    progress_state p = {.calls = 0, .last = 0, .rising = 1, .cancel_at = 2.0f};
    nibble_load_options o = nibble_load_options_default();
    CHECK(o.use_mmap && !o.use_mlock && o.progress == NULL);
    o.progress = on_progress;
    o.progress_user_data = &p;
    nibble_model* model = NULL;
    REQUIRE_OK(nibble_model_load(model_path, &o, &model));
    CHECK(p.calls >= 2 && p.rising && p.last == 1.0f);
    nibble_model_free(model);

    progress_state cancel = {.calls = 0, .last = 0, .rising = 1, .cancel_at = 0.0f};
    o.progress_user_data = &cancel;
    model = (nibble_model*)1;
    CHECK(nibble_model_load(model_path, &o, &model) == NIBBLE_CANCELLED);
    CHECK(model == NULL);
    CHECK(cancel.calls == 1);
    CHECK(contains(nibble_last_error(), "cancelled"));

    /* A kernel table by name: the scalar reference runs everywhere; a made-up one is refused. */
    nibble_load_options scalar = nibble_load_options_default();
    scalar.isa = "scalar";
    REQUIRE_OK(nibble_model_load(model_path, &scalar, &model));
    nibble_model_info info;
    REQUIRE_OK(nibble_model_get_info(model, &info));
    CHECK(strcmp(info.kernels, "scalar") == 0);
    nibble_model_free(model);
    scalar.isa = "no-such-isa";
    CHECK(nibble_model_load(model_path, &scalar, &model) == NIBBLE_UNSUPPORTED);
    CHECK(model == NULL);
    CHECK(contains(nibble_last_error(), "no-such-isa"));
}

static void test_model_info(const nibble_model* model) {
    nibble_model_info info;
    REQUIRE_OK(nibble_model_get_info(model, &info));
    CHECK(strcmp(info.container, "GGUF") == 0);
    CHECK(strcmp(info.architecture, "llama") == 0);
    CHECK(strcmp(info.tokenizer, "llama") == 0);
    CHECK(info.n_vocab == 512 && info.n_embd == 64 && info.n_layer > 0);
    CHECK(info.bos == 1 && info.eos == 2 && info.eot == -1);
    CHECK(info.kernels[0] != '\0');
    CHECK(!info.locked && info.lock_error[0] == '\0');
    CHECK(info.name != NULL && info.chat_template != NULL);
}

static void test_tokens(const nibble_model* model) {
    nibble_tokenize_options o = nibble_tokenize_options_default();
    CHECK(!o.add_bos && !o.add_eos && !o.parse_special);
    o.add_bos = true;
    const nibble_token want[5] = {1, 403, 407, 261, 378};
    nibble_token ids[16];
    size_t n = 0;
    REQUIRE_OK(nibble_tokenize(model, prompt, strlen(prompt), &o, ids, 16, &n));
    CHECK(n == 5 && memcmp(ids, want, sizeof want) == 0);

    /* Size query, then a buffer one short: out_of_range with the count needed, nothing written. */
    n = 0;
    CHECK(nibble_tokenize(model, prompt, strlen(prompt), &o, NULL, 0, &n) == NIBBLE_OUT_OF_RANGE && n == 5);
    nibble_token small[4] = {-7, -7, -7, -7};
    n = 0;
    CHECK(nibble_tokenize(model, prompt, strlen(prompt), &o, small, 4, &n) == NIBBLE_OUT_OF_RANGE && n == 5);
    CHECK(small[0] == -7);
    CHECK(contains(nibble_last_error(), "nibble_tokenize: the buffer holds 4 tokens, 5 needed"));

    /* Round trip, bytes outside the vocabulary included (byte fallback). */
    const char* unusual = "caf\xC3\xA9 \xE2\x82\xAC 42\n\tz";
    nibble_token many[64];
    REQUIRE_OK(nibble_tokenize(model, unusual, strlen(unusual), NULL, many, 64, &n));
    char text[128];
    size_t length = 0;
    REQUIRE_OK(nibble_detokenize(model, many, n, text, sizeof text, &length));
    CHECK(length == strlen(unusual) && strcmp(text, unusual) == 0);
    REQUIRE_OK(nibble_detokenize(model, ids, 5, text, sizeof text, &length));
    CHECK(strcmp(text, prompt) == 0);
    /* The text needs its NUL: a buffer of exactly strlen bytes is too small. */
    CHECK(nibble_detokenize(model, ids, 5, text, strlen(prompt), &length) == NIBBLE_OUT_OF_RANGE);
    CHECK(length == strlen(prompt));
    REQUIRE_OK(nibble_detokenize(model, NULL, 0, text, 1, &length));
    CHECK(length == 0 && text[0] == '\0');

    REQUIRE_OK(nibble_token_piece(model, 403, text, sizeof text, &length));
    CHECK(length > 0 && length == strlen(text));
    CHECK(nibble_token_piece(model, 512, text, sizeof text, &length) == NIBBLE_INVALID_ARGUMENT);
    CHECK(contains(nibble_last_error(), "outside the vocabulary"));
    const nibble_token outside[2] = {1, 100000};
    CHECK(nibble_detokenize(model, outside, 2, text, sizeof text, &length) == NIBBLE_INVALID_ARGUMENT);
}

static void test_greedy_generation(const nibble_model* model, const nibble_token* expected) {
    nibble_session* session = new_session(model, 0);
    nibble_generate_options o = nibble_generate_options_default();
    o.max_tokens = 60;
    o.sampling.temperature = 0.0f;
    nibble_token generated[64];
    o.generated = generated;
    o.generated_capacity = 64;
    stream_state stream = {.length = 0};
    o.on_piece = on_piece;
    o.user_data = &stream;
    nibble_generate_result r;
    REQUIRE_OK(nibble_generate(session, prompt, strlen(prompt), &o, &r));
    CHECK(r.n_prompt == 5 && r.n_generated == 60);
    CHECK(r.stop == NIBBLE_STOP_MAX_TOKENS);
    CHECK(memcmp(generated, expected + 5 + 4, 60 * sizeof(nibble_token)) == 0);
    CHECK(r.prompt_seconds >= 0 && r.generate_seconds > 0);
    CHECK(!stream.unterminated && stream.pieces > 0);
    /* The streamed text continues the reference story (as the C++ test checks it). */
    char* reference = read_whole_file(NIBBLE_SOURCE_DIR "/tests/data/greedy_once_upon_a_time_64.txt", NULL);
    CHECK(reference != NULL && strncmp(reference, prompt, strlen(prompt)) == 0 &&
          strncmp(reference + strlen(prompt), stream.text, 40) == 0);
    free(reference);

    uint32_t position = 0, context = 0;
    REQUIRE_OK(nibble_session_position(session, &position));
    REQUIRE_OK(nibble_session_context_length(session, &context));
    CHECK(position == 65 && context >= 65 && context <= 4096);
    nibble_token held[80];
    size_t n = 0;
    CHECK(nibble_session_tokens(session, held, 10, &n) == NIBBLE_OUT_OF_RANGE && n == 65);
    REQUIRE_OK(nibble_session_tokens(session, held, 80, &n));
    CHECK(n == 65 && memcmp(held, expected, 5 * sizeof(nibble_token)) == 0 &&
          memcmp(held + 5, generated, 60 * sizeof(nibble_token)) == 0);

    /* Truncate to the prompt and generate again: the same reply. */
    CHECK(nibble_session_truncate(session, 66) == NIBBLE_INVALID_ARGUMENT);
    REQUIRE_OK(nibble_session_truncate(session, 5));
    nibble_token again[8];
    nibble_generate_options eight = greedy(8);
    eight.generated = again;
    eight.generated_capacity = 8;
    REQUIRE_OK(nibble_generate_tokens(session, NULL, 0, &eight, &r));
    CHECK(r.n_generated == 8 && memcmp(again, generated, sizeof again) == 0);

    /* Eval: the prompt's last logits pick the first generated id. */
    REQUIRE_OK(nibble_session_reset(session));
    const float* logits = NULL;
    size_t n_logits = 0;
    REQUIRE_OK(nibble_session_eval(session, expected, 5, false, &logits, &n_logits));
    CHECK(n_logits == 512);
    size_t best = 0;
    for (size_t i = 1; i < n_logits; ++i) best = logits[i] > logits[best] ? i : best;
    CHECK((nibble_token)best == generated[0]);
    REQUIRE_OK(nibble_session_eval(session, generated, 3, true, &logits, &n_logits));
    CHECK(n_logits == 3 * 512);
    CHECK(nibble_session_eval(session, NULL, 0, false, &logits, &n_logits) == NIBBLE_INVALID_ARGUMENT);
    nibble_session_free(session);
}

static void test_streaming_and_cancel(const nibble_model* model) {
    nibble_session* session = new_session(model, 16);
    stream_state stream = {.stop_after = 3};
    nibble_generate_options o = greedy(50);
    o.on_piece = on_piece;
    o.user_data = &stream;
    nibble_generate_result r;
    REQUIRE_OK(nibble_generate(session, prompt, strlen(prompt), &o, &r));
    CHECK(r.stop == NIBBLE_STOP_CALLBACK && stream.pieces == 3 && r.n_generated < 50);

    /* Cancelled from inside the callback: generate returns OK with stop cancelled,
     * and the session goes on afterwards. */
    REQUIRE_OK(nibble_session_reset(session));
    stream_state cancelling = {.cancel_after = 5, .session = session};
    o.user_data = &cancelling;
    REQUIRE_OK(nibble_generate(session, prompt, strlen(prompt), &o, &r));
    CHECK(r.stop == NIBBLE_STOP_CANCELLED && r.n_generated == 5);
    nibble_generate_options three = greedy(3);
    REQUIRE_OK(nibble_generate(session, NULL, 0, &three, &r));
    CHECK(r.n_generated == 3 && r.stop == NIBBLE_STOP_MAX_TOKENS);

    /* Eval after a cancel: the first batch runs, then NIBBLE_CANCELLED. */
    REQUIRE_OK(nibble_session_reset(session));
    nibble_token long_prompt[64];
    for (int i = 0; i < 64; ++i) long_prompt[i] = 400;
    long_prompt[0] = 1;
    REQUIRE_OK(nibble_session_cancel(session));
    const float* logits;
    size_t n_logits;
    CHECK(nibble_session_eval(session, long_prompt, 64, false, &logits, &n_logits) == NIBBLE_CANCELLED);
    CHECK(contains(nibble_last_error(), "cancelled"));
    uint32_t position = 0;
    REQUIRE_OK(nibble_session_position(session, &position));
    CHECK(position == 16);
    nibble_session_free(session);

    /* A full context: stop, or shift and go on. */
    nibble_session_options shifting = nibble_session_options_default();
    shifting.context_length = 64;
    shifting.threads = 1;
    shifting.on_full = NIBBLE_CONTEXT_SHIFT;
    shifting.n_keep = 5;
    REQUIRE_OK(nibble_session_create(model, &shifting, &session));
    nibble_generate_options many = greedy(200);
    REQUIRE_OK(nibble_generate(session, prompt, strlen(prompt), &many, &r));
    CHECK(r.n_generated == 200 && r.shifts >= 3);
    nibble_session_free(session);
    shifting.on_full = NIBBLE_CONTEXT_STOP;
    REQUIRE_OK(nibble_session_create(model, &shifting, &session));
    REQUIRE_OK(nibble_generate(session, prompt, strlen(prompt), &many, &r));
    CHECK(r.stop == NIBBLE_STOP_CONTEXT_FULL && r.n_generated == 64 - 5 + 1);
    CHECK(nibble_generate(session, " more", 5, &many, &r) == NIBBLE_OUT_OF_RANGE);
    nibble_session_free(session);
}

static void test_saved_state(const nibble_model* model) {
    nibble_token whole_ids[30], resumed_ids[30];
    nibble_generate_options o = greedy(30);
    o.generated = whole_ids;
    o.generated_capacity = 30;
    nibble_session* whole = new_session(model, 0);
    REQUIRE_OK(nibble_generate(whole, prompt, strlen(prompt), &o, NULL));
    nibble_session_free(whole);

    nibble_session* first = new_session(model, 0);
    nibble_generate_options prompt_only = greedy(0);
    REQUIRE_OK(nibble_generate(first, prompt, strlen(prompt), &prompt_only, NULL));
    size_t size = 0, written = 0;
    REQUIRE_OK(nibble_session_state_size(first, &size));
    CHECK(size > 0);
    unsigned char* state = malloc(size);
    CHECK(nibble_session_save_state(first, state, size - 1, &written) == NIBBLE_OUT_OF_RANGE && written == size);
    REQUIRE_OK(nibble_session_save_state(first, state, size, &written));
    CHECK(written == size);
    nibble_session_free(first);

    nibble_session* resumed = new_session(model, 0);
    REQUIRE_OK(nibble_session_load_state(resumed, state, size));
    uint32_t position = 0;
    REQUIRE_OK(nibble_session_position(resumed, &position));
    CHECK(position == 5);
    o.generated = resumed_ids;
    REQUIRE_OK(nibble_generate(resumed, NULL, 0, &o, NULL));
    CHECK(memcmp(whole_ids, resumed_ids, sizeof whole_ids) == 0);

    /* Damaged bytes are refused and leave the session as it was. */
    state[size / 2] ^= 1;
    CHECK(nibble_session_load_state(resumed, state, size) == NIBBLE_BAD_FORMAT);
    CHECK(nibble_session_load_state(resumed, state, 10) == NIBBLE_BAD_FORMAT);
    free(state);
    REQUIRE_OK(nibble_session_position(resumed, &position));
    CHECK(position == 35);
    nibble_session_free(resumed);

    /* Sampled, through a file: the half after loading equals never stopping. */
    nibble_generate_options seeded = nibble_generate_options_default();
    seeded.max_tokens = 12;
    seeded.sampling.temperature = 1.0f;
    seeded.sampling.seed = 5;
    seeded.stop_at_eos = false;
    nibble_token straight[12], from_file[12];
    seeded.generated = straight;
    seeded.generated_capacity = 12;
    nibble_session* a = new_session(model, 0);
    REQUIRE_OK(nibble_generate(a, prompt, strlen(prompt), &seeded, NULL));
    REQUIRE_OK(nibble_generate(a, NULL, 0, &seeded, NULL));
    nibble_session_free(a);
    seeded.generated = from_file;  /* b's first half; c overwrites it with its second */
    nibble_session* b = new_session(model, 0);
    REQUIRE_OK(nibble_generate(b, prompt, strlen(prompt), &seeded, NULL));
    REQUIRE_OK(nibble_session_save_state_file(b, "c-api-state.bin"));
    nibble_session_free(b);
    nibble_session* c = new_session(model, 0);
    REQUIRE_OK(nibble_session_load_state_file(c, "c-api-state.bin"));
    REQUIRE_OK(nibble_generate(c, NULL, 0, &seeded, NULL));
    CHECK(memcmp(straight, from_file, sizeof straight) == 0);
    CHECK(nibble_session_load_state_file(c, "c-api-no-such-state.bin") == NIBBLE_IO);
    CHECK(nibble_session_save_state_file(c, NULL) == NIBBLE_INVALID_ARGUMENT);
    nibble_session_free(c);
    remove("c-api-state.bin");
}

static void test_embeddings(const nibble_model* model) {
    nibble_session* session = new_session(model, 0);
    const char* text = "Once upon a time there was a cat";
    float values[64], again[64];
    size_t n = 0;
    REQUIRE_OK(nibble_embed(session, text, strlen(text), NIBBLE_POOLING_MEAN, values, 64, &n));
    CHECK(n == 64);
    double norm = 0;
    for (size_t i = 0; i < n; ++i) norm += (double)values[i] * values[i];
    CHECK(fabs(sqrt(norm) - 1.0) < 1e-5);
    REQUIRE_OK(nibble_embed(session, text, strlen(text), NIBBLE_POOLING_MEAN, again, 64, &n));
    CHECK(memcmp(values, again, sizeof values) == 0);
    CHECK(nibble_embed(session, text, strlen(text), NIBBLE_POOLING_LAST, values, 63, &n) == NIBBLE_OUT_OF_RANGE && n == 64);
    CHECK(nibble_embed(session, text, strlen(text), (nibble_pooling)9, values, 64, &n) == NIBBLE_INVALID_ARGUMENT);

    nibble_token ids[32];
    size_t n_ids = 0;
    nibble_tokenize_options with_bos = nibble_tokenize_options_default();
    with_bos.add_bos = true;
    REQUIRE_OK(nibble_tokenize(model, text, strlen(text), &with_bos, ids, 32, &n_ids));
    float* rows = malloc(n_ids * 64 * sizeof(float));
    CHECK(nibble_embed_tokens(session, ids, n_ids, NIBBLE_POOLING_NONE, NULL, 0, &n) == NIBBLE_OUT_OF_RANGE);
    CHECK(n == n_ids * 64);
    REQUIRE_OK(nibble_embed_tokens(session, ids, n_ids, NIBBLE_POOLING_NONE, rows, n_ids * 64, &n));
    REQUIRE_OK(nibble_embed_tokens(session, ids, n_ids, NIBBLE_POOLING_LAST, values, 64, &n));
    /* Last pooling is the last row, normalised. */
    double last_norm = 0;
    const float* last = rows + (n_ids - 1) * 64;
    for (size_t i = 0; i < 64; ++i) last_norm += (double)last[i] * last[i];
    double worst = 0;
    for (size_t i = 0; i < 64; ++i) worst = fmax(worst, fabs(values[i] - last[i] / sqrt(last_norm)));
    CHECK(worst < 1e-5);
    free(rows);
    uint32_t position = 1;
    REQUIRE_OK(nibble_session_position(session, &position));
    CHECK(position == 0);
    nibble_session_free(session);
}

/* ---- cancel from another thread ---- */

typedef struct {
    nibble_session* session;
    atomic_int pieces;
} canceller_state;

static int count_piece(const char* piece, size_t length, void* user_data) {
    (void)piece;
    (void)length;
    atomic_fetch_add(&((canceller_state*)user_data)->pieces, 1);
    return 1;
}

static void* cancel_after_20_pieces(void* argument) {
    canceller_state* c = argument;
    const struct timespec millisecond = {0, 1000000};
    while (atomic_load(&c->pieces) < 20) nanosleep(&millisecond, NULL);
    nibble_session_cancel(c->session);
    return NULL;
}

static void test_cancel_from_another_thread(const nibble_model* model) {
    nibble_session_options shifting = nibble_session_options_default();
    shifting.context_length = 64;
    shifting.threads = 1;
    shifting.on_full = NIBBLE_CONTEXT_SHIFT;
    canceller_state c = {.session = NULL};
    atomic_init(&c.pieces, 0);
    REQUIRE_OK(nibble_session_create(model, &shifting, &c.session));
    pthread_t canceller;
    CHECK(pthread_create(&canceller, NULL, cancel_after_20_pieces, &c) == 0);
    nibble_generate_options endless = greedy(1000000);
    endless.on_piece = count_piece;
    endless.user_data = &c;
    nibble_generate_result r;
    REQUIRE_OK(nibble_generate(c.session, prompt, strlen(prompt), &endless, &r));
    pthread_join(canceller, NULL);
    CHECK(r.stop == NIBBLE_STOP_CANCELLED && r.n_generated >= 20 && r.n_generated < 1000000);
    nibble_session_free(c.session);
}

/* ---- per-thread messages ---- */

typedef struct {
    const nibble_model* model;
    char before[256];
    char after[256];
} thread_state;

static void* fail_on_other_thread(void* argument) {
    thread_state* t = argument;
    snprintf(t->before, sizeof t->before, "%s", nibble_last_error());
    char piece[16];
    size_t length;
    if (nibble_token_piece(t->model, 9999, piece, sizeof piece, &length) != NIBBLE_INVALID_ARGUMENT) return NULL;
    snprintf(t->after, sizeof t->after, "%s", nibble_last_error());
    return NULL;
}

static void test_thread_messages(const nibble_model* model) {
    nibble_model* none = NULL;
    CHECK(nibble_model_load(NULL, NULL, &none) == NIBBLE_INVALID_ARGUMENT);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", nibble_last_error());
    thread_state t = {.model = model};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fail_on_other_thread, &t) == 0);
    pthread_join(thread, NULL);
    CHECK(t.before[0] == '\0');  /* a new thread has no message yet */
    CHECK(contains(t.after, "token id 9999"));
    CHECK(strcmp(nibble_last_error(), mine) == 0);  /* this thread's is untouched */
    /* Successful calls leave the message alone. */
    nibble_model_info info;
    REQUIRE_OK(nibble_model_get_info(model, &info));
    CHECK(strcmp(nibble_last_error(), mine) == 0);
}

static void test_chat_templates(const nibble_model* model) {
    size_t count = 0;
    REQUIRE_OK(nibble_chat_template_known_name_count(&count));
    CHECK(count > 0);
    const char* name = NULL;
    CHECK(nibble_chat_template_known_name(count, &name) == NIBBLE_INVALID_ARGUMENT);
    int has_chatml = 0;
    for (size_t i = 0; i < count; ++i) {
        REQUIRE_OK(nibble_chat_template_known_name(i, &name));
        has_chatml |= strcmp(name, "chatml") == 0;
    }
    CHECK(has_chatml);
    nibble_chat_template* chat = NULL;
    REQUIRE_OK(nibble_chat_template_named("chatml", &chat));
    REQUIRE_OK(nibble_chat_template_name(chat, &name));
    CHECK(strcmp(name, "chatml") == 0);
    const nibble_chat_message messages[2] = {{"system", "You are brief."}, {"user", "Hello"}};
    size_t length = 0;
    CHECK(nibble_chat_template_render(chat, messages, 2, true, NULL, 0, &length) == NIBBLE_OUT_OF_RANGE && length > 0);
    char* text = malloc(length + 1);
    REQUIRE_OK(nibble_chat_template_render(chat, messages, 2, true, text, length + 1, &length));
    CHECK(strlen(text) == length && contains(text, "<|im_start|>user\nHello") && contains(text, "You are brief."));
    free(text);
    const nibble_chat_message broken[1] = {{"user", NULL}};
    CHECK(nibble_chat_template_render(chat, broken, 1, true, NULL, 0, &length) == NIBBLE_INVALID_ARGUMENT);
    REQUIRE_OK(nibble_chat_template_stop_string_count(chat, &count));
    CHECK(count > 0);
    const char* stop = NULL;
    REQUIRE_OK(nibble_chat_template_stop_string(chat, 0, &stop));
    CHECK(stop != NULL && stop[0] != '\0');
    CHECK(nibble_chat_template_stop_string(chat, count, &stop) == NIBBLE_INVALID_ARGUMENT);
    nibble_chat_template_free(chat);

    chat = (nibble_chat_template*)1;
    CHECK(nibble_chat_template_named("no-such-template", &chat) != NIBBLE_OK && chat == NULL);
    CHECK(nibble_last_error()[0] != '\0');
    CHECK(nibble_chat_template_named(NULL, &chat) == NIBBLE_INVALID_ARGUMENT);
    REQUIRE_OK(nibble_chat_template_for_model(model, "chatml", &chat));
    REQUIRE_OK(nibble_chat_template_name(chat, &name));
    CHECK(strcmp(name, "chatml") == 0);
    nibble_chat_template_free(chat);
}

int main(void) {
    nibble_token expected[5 + 64];
    CHECK(read_expected_ids(expected, 5 + 64) == 5 + 64);

    test_library();
    test_bad_files();
    test_load_progress();
    nibble_model* model = NULL;
    REQUIRE_OK(nibble_model_load(model_path, NULL, &model));
    test_null_arguments(model);
    test_model_info(model);
    test_tokens(model);
    test_greedy_generation(model, expected);
    test_streaming_and_cancel(model);
    test_saved_state(model);
    test_embeddings(model);
    test_cancel_from_another_thread(model);
    test_thread_messages(model);
    test_chat_templates(model);
    nibble_model_free(model);

    if (failures > 0) {
        fprintf(stderr, "c_api_test: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("c_api_test: all %d checks passed\n", checks);
    return 0;
}
