/* nibble: the C API (C11 or C++), a thin layer over the C++ API of nibble.hpp.
 *
 * Conventions, the same for every function:
 * - Every call returns a nibble_status: NIBBLE_OK (0) or the number of the C++
 *   nibble::ErrorCode that stopped it. No exception crosses this interface.
 * - After a failure, nibble_last_error() gives its message (the C++ Error's own text
 *   where the C++ API failed). The message belongs to the calling thread and stays
 *   valid until that thread's next failing call; successful calls leave it alone.
 * - A NULL handle or pointer, or a value outside its range, is NIBBLE_INVALID_ARGUMENT
 *   with a message naming the function and the argument.
 * - Output buffers: the caller passes a buffer and its capacity (in elements); the
 *   function stores the number it needs in *count (also on failure) and returns
 *   NIBBLE_OUT_OF_RANGE when the capacity is smaller, writing nothing. Pass NULL and 0
 *   to ask for the size (the answer comes with NIBBLE_OUT_OF_RANGE unless it is 0).
 *   Text buffers are NUL-terminated: they need *length + 1 bytes.
 * - Options structs: start from the nibble_*_options_default() value and change
 *   fields, so that code keeps compiling when fields are added. A NULL options pointer
 *   means the defaults.
 * - Callbacks receive the caller's user_data; returning 0 stops. They run on the
 *   calling thread and must not throw or longjmp.
 * - Handles are freed with their nibble_*_free function; freeing NULL does nothing.
 *
 * Threads: a nibble_model may be used by any number of threads and sessions at once.
 * A nibble_session is used by one thread at a time, except nibble_session_cancel.
 * docs/api.md documents every function in more detail. */
#ifndef NIBBLE_NIBBLE_H
#define NIBBLE_NIBBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nibble/export.hpp" /* NIBBLE_API: plain preprocessor, valid C */

/* Compiled as C++, the enums get int as their fixed underlying type, so that any int a
 * C caller stores in one (an invalid value included) is a value of the type there too,
 * and is refused as an argument instead of being undefined behaviour. */
#ifdef __cplusplus
#define NIBBLE_ENUM_INT : int
#else
#define NIBBLE_ENUM_INT
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t nibble_token;

typedef struct nibble_model nibble_model;
typedef struct nibble_session nibble_session;
typedef struct nibble_chat_template nibble_chat_template;

/* The numbers of nibble::ErrorCode (include/nibble/error.hpp); they never change. */
typedef enum nibble_status NIBBLE_ENUM_INT {
    NIBBLE_OK = 0,
    NIBBLE_IO = 1,               /* a file could not be opened, mapped, read or written */
    NIBBLE_BAD_FORMAT = 2,       /* the bytes are not a valid file (or saved state) */
    NIBBLE_UNSUPPORTED = 3,      /* valid, but uses something nibble does not implement */
    NIBBLE_BAD_MODEL = 4,        /* the tensors or hyperparameters do not form a usable model */
    NIBBLE_INVALID_ARGUMENT = 5, /* a NULL or out-of-range argument */
    NIBBLE_OUT_OF_RANGE = 6,     /* a context or buffer limit was exceeded, or memory ran out */
    NIBBLE_CANCELLED = 7         /* a callback or nibble_session_cancel asked to stop */
} nibble_status;

/* ---- library ---- */

/* "MAJOR.MINOR.PATCH"; static storage. */
NIBBLE_API const char* nibble_version(void);
/* "ok", "io", "bad_format", ... ; "unknown" for other numbers. Static storage. */
NIBBLE_API const char* nibble_status_name(nibble_status status);
/* The message of this thread's last failing call ("" when none failed yet). */
NIBBLE_API const char* nibble_last_error(void);

/* ---- models ---- */

/* Called with the fraction loaded (0 to 1, rising, 1 last); return 0 to cancel. */
typedef int (*nibble_progress_callback)(float fraction, void* user_data);

typedef struct nibble_load_options {
    bool use_mmap;                     /* true: map the file; false: read it into memory */
    bool use_mlock;                    /* false; lock the weights in RAM (see nibble_model_info.locked) */
    const char* tokenizer_path;        /* NULL; llama2.c checkpoints only: their tokenizer file */
    const char* isa;                   /* NULL: the CPU's best kernels (or NIBBLE_ISA's); else "scalar", "avx2", ... */
    nibble_progress_callback progress; /* NULL: no progress reports */
    void* progress_user_data;
} nibble_load_options;

NIBBLE_API nibble_load_options nibble_load_options_default(void);

/* Loads a GGUF file, a 2023 .bin file or a llama2.c checkpoint into *model (NULL on
 * failure). A progress callback returning 0 gives NIBBLE_CANCELLED. */
NIBBLE_API nibble_status nibble_model_load(const char* path, const nibble_load_options* options, nibble_model** model);
NIBBLE_API void nibble_model_free(nibble_model* model);

/* The main facts about a model. Its strings belong to the model: valid until
 * nibble_model_free, never NULL (empty when the file has no such value). */
typedef struct nibble_model_info {
    const char* container; /* "GGUF", "llama2.c", "ggjt", ... */
    uint32_t container_version;
    const char* architecture; /* "llama", "gptj", "falcon", "mpt" */
    const char* name;
    const char* chat_template; /* the file's Jinja chat template, "" when none */
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_rot;
    uint32_t context_length; /* the training context */
    uint64_t file_bytes, weight_bytes;
    const char* kernels;    /* the kernel table in use ("avx2", "neon-dotprod", ...) */
    bool locked;            /* use_mlock succeeded */
    const char* lock_error; /* why use_mlock did not lock ("" when it did or was not asked) */
    const char* tokenizer;  /* "llama" (SentencePiece), "gpt2" (byte-level BPE) or "none" */
    nibble_token bos, eos;  /* -1 when the vocabulary has none */
    nibble_token eot;       /* end of turn (generation stops at it as at EOS), -1 when none */
} nibble_model_info;

NIBBLE_API nibble_status nibble_model_get_info(const nibble_model* model, nibble_model_info* info);

/* ---- tokens ---- */

typedef struct nibble_tokenize_options {
    bool add_bos;       /* false; prepend the beginning-of-sequence token */
    bool add_eos;       /* false; append the end-of-sequence token */
    bool parse_special; /* false; text of control tokens ("<|im_start|>") becomes those tokens */
} nibble_tokenize_options;

NIBBLE_API nibble_tokenize_options nibble_tokenize_options_default(void);

/* Token ids of `length` bytes of UTF-8 text (any bytes are accepted; text may be
 * NULL when length is 0) into tokens[capacity]; *n_tokens gets the count. */
NIBBLE_API nibble_status nibble_tokenize(const nibble_model* model, const char* text, size_t length,
                                         const nibble_tokenize_options* options, nibble_token* tokens, size_t capacity,
                                         size_t* n_tokens);
/* The text of a sequence of ids (control tokens give none), NUL-terminated, into
 * text[capacity]; *length gets its length without the NUL. An id outside the
 * vocabulary is NIBBLE_INVALID_ARGUMENT. */
NIBBLE_API nibble_status nibble_detokenize(const nibble_model* model, const nibble_token* tokens, size_t n_tokens, char* text,
                                           size_t capacity, size_t* length);
/* The raw bytes one token stands for (a byte token gives one byte, which may be part of
 * a UTF-8 character), NUL-terminated, as nibble_detokenize. */
NIBBLE_API nibble_status nibble_token_piece(const nibble_model* model, nibble_token token, char* piece, size_t capacity,
                                            size_t* length);

/* ---- sessions ---- */

typedef enum nibble_context_policy NIBBLE_ENUM_INT {
    NIBBLE_CONTEXT_STOP = 0, /* generation ends with NIBBLE_STOP_CONTEXT_FULL */
    NIBBLE_CONTEXT_SHIFT = 1 /* keep n_keep tokens, drop the older half of the rest, go on */
} nibble_context_policy;

/* The element type of the KV cache's rows (SessionOptions::kv_type_k / kv_type_v). */
typedef enum nibble_cache_type NIBBLE_ENUM_INT {
    NIBBLE_CACHE_F32 = 0,
    NIBBLE_CACHE_F16 = 1, /* the default: half the memory of f32 */
    NIBBLE_CACHE_Q8_0 = 2 /* 34 bytes per 32 values; needs a key width that is a multiple of 32 */
} nibble_cache_type;

typedef struct nibble_session_options {
    uint32_t context_length;        /* 0: the model's training context, at most 4096 */
    uint32_t batch_size;            /* 64; tokens evaluated together while reading a prompt */
    int threads;                    /* 0: the physical cores */
    int batch_threads;              /* 0: the same as threads */
    nibble_context_policy on_full;  /* NIBBLE_CONTEXT_STOP */
    uint32_t n_keep;                /* 0; tokens a shift keeps (needs n_keep < context_length / 2) */
    nibble_cache_type type_k;       /* NIBBLE_CACHE_F16; the cached keys' type */
    nibble_cache_type type_v;       /* NIBBLE_CACHE_F16; the cached values' type */
} nibble_session_options;

NIBBLE_API nibble_session_options nibble_session_options_default(void);

/* A conversation on `model` (KV cache, tokens, sampler) into *session (NULL on
 * failure). The session keeps the model's data alive: the model handle may be freed
 * first. */
NIBBLE_API nibble_status nibble_session_create(const nibble_model* model, const nibble_session_options* options,
                                               nibble_session** session);
NIBBLE_API void nibble_session_free(nibble_session* session);

/* Forgets everything: position 0, a fresh sampler. */
NIBBLE_API nibble_status nibble_session_reset(nibble_session* session);
/* Keeps the first n tokens (n greater than the position is NIBBLE_INVALID_ARGUMENT). */
NIBBLE_API nibble_status nibble_session_truncate(nibble_session* session, uint32_t n);
/* Tokens in the conversation, the last sampled one (not evaluated yet) included. */
NIBBLE_API nibble_status nibble_session_position(const nibble_session* session, uint32_t* position);
NIBBLE_API nibble_status nibble_session_context_length(const nibble_session* session, uint32_t* context_length);
/* Those tokens, in order, into tokens[capacity]; *n_tokens gets the count. */
NIBBLE_API nibble_status nibble_session_tokens(const nibble_session* session, nibble_token* tokens, size_t capacity,
                                               size_t* n_tokens);
/* Asks the running eval, generate or embed to stop; safe from any thread and, for a
 * valid session, from a signal handler. Eval then fails with NIBBLE_CANCELLED and
 * generate returns NIBBLE_OK with stop NIBBLE_STOP_CANCELLED, keeping what was
 * evaluated. Called while nothing runs, it stops the next call. */
NIBBLE_API nibble_status nibble_session_cancel(nibble_session* session);

/* Appends n_tokens ids and evaluates them. *logits points to the last token's logits
 * (n_vocab floats) or, with all_logits, every given token's ([n_tokens][n_vocab]);
 * *n_logits gets the float count. The logits belong to the session: valid until its
 * next call. A full context is NIBBLE_OUT_OF_RANGE (eval never shifts). */
NIBBLE_API nibble_status nibble_session_eval(nibble_session* session, const nibble_token* tokens, size_t n_tokens,
                                             bool all_logits, const float** logits, size_t* n_logits);

/* ---- generation ---- */

typedef struct nibble_sampling_options {
    float temperature;    /* 0.8; <= 0: greedy */
    int top_k;            /* 40; 0 = off */
    float top_p;          /* 0.95; 1 = off */
    float min_p;          /* 0.05; 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* 64 */
    uint64_t seed;        /* 0; the same seed and inputs give the same tokens */
} nibble_sampling_options;

/* Receives generated text, whole UTF-8 characters at a time: `length` bytes at `piece`,
 * followed by a NUL (valid during the call only). Return 0 to stop. */
typedef int (*nibble_piece_callback)(const char* piece, size_t length, void* user_data);

typedef struct nibble_generate_options {
    int max_tokens;                   /* 128; 0: evaluate the prompt only */
    nibble_sampling_options sampling; /* the defaults listed above */
    bool add_bos;                     /* true; BOS before a text prompt at position 0 */
    bool stop_at_eos;                 /* true; false: go on past end-of-sequence */
    const nibble_token* stop_tokens;  /* NULL; more ids that end generation as EOS does */
    size_t n_stop_tokens;
    nibble_piece_callback on_piece;   /* NULL: no text */
    void* user_data;                  /* passed to on_piece */
    nibble_token* generated;          /* NULL; receives the first generated_capacity ids generated */
    size_t generated_capacity;
} nibble_generate_options;

NIBBLE_API nibble_generate_options nibble_generate_options_default(void);

typedef enum nibble_stop_reason NIBBLE_ENUM_INT {
    NIBBLE_STOP_MAX_TOKENS = 0,   /* max_tokens generated */
    NIBBLE_STOP_EOS = 1,          /* end of sequence or one of stop_tokens sampled */
    NIBBLE_STOP_CALLBACK = 2,     /* on_piece returned 0 */
    NIBBLE_STOP_CONTEXT_FULL = 3, /* the context filled (NIBBLE_CONTEXT_STOP) */
    NIBBLE_STOP_CANCELLED = 4     /* nibble_session_cancel */
} nibble_stop_reason;

typedef struct nibble_generate_result {
    size_t n_prompt;         /* prompt ids evaluated */
    size_t n_generated;      /* ids generated (more than generated_capacity, maybe) */
    nibble_stop_reason stop;
    double prompt_seconds;
    double generate_seconds;
    uint32_t shifts;         /* context shifts made */
} nibble_generate_result;

/* Encodes `length` bytes of prompt (BOS first when add_bos and the session is empty),
 * appends them, then samples up to max_tokens ids, streaming their text to on_piece.
 * The conversation continues across calls: an empty prompt (NULL, 0) goes on from the
 * last sampled token. `result` may be NULL. */
NIBBLE_API nibble_status nibble_generate(nibble_session* session, const char* prompt, size_t length,
                                         const nibble_generate_options* options, nibble_generate_result* result);
/* The same from token ids (no BOS added). */
NIBBLE_API nibble_status nibble_generate_tokens(nibble_session* session, const nibble_token* prompt, size_t n_tokens,
                                                const nibble_generate_options* options, nibble_generate_result* result);

/* ---- saved state ---- */

/* The state as bytes: *size gets their count (it serializes the state to know). */
NIBBLE_API nibble_status nibble_session_state_size(const nibble_session* session, size_t* size);
/* The state into buffer[capacity]; *size gets the count. */
NIBBLE_API nibble_status nibble_session_save_state(const nibble_session* session, void* buffer, size_t capacity, size_t* size);
/* Replaces the session's state with saved bytes: NIBBLE_BAD_FORMAT for damaged ones,
 * NIBBLE_UNSUPPORTED for another state version, NIBBLE_BAD_MODEL for another model's,
 * NIBBLE_OUT_OF_RANGE when they do not fit the context; the session is unchanged then.
 * Continuing after a load gives what never stopping would have given. */
NIBBLE_API nibble_status nibble_session_load_state(nibble_session* session, const void* bytes, size_t size);
/* The same through a file (written atomically: a complete file or none). */
NIBBLE_API nibble_status nibble_session_save_state_file(const nibble_session* session, const char* path);
NIBBLE_API nibble_status nibble_session_load_state_file(nibble_session* session, const char* path);

/* ---- embeddings ---- */

typedef enum nibble_pooling NIBBLE_ENUM_INT {
    NIBBLE_POOLING_MEAN = 0, /* the mean over the tokens, L2-normalised: n_embd floats */
    NIBBLE_POOLING_LAST = 1, /* the last token's, L2-normalised: n_embd floats */
    NIBBLE_POOLING_NONE = 2  /* every token's, [n_tokens][n_embd], not normalised */
} nibble_pooling;

/* The final hidden states of a text (BOS first when the model has one), pooled, into
 * values[capacity]; *n_values gets the float count. Resets the session. */
NIBBLE_API nibble_status nibble_embed(nibble_session* session, const char* text, size_t length, nibble_pooling pooling,
                                      float* values, size_t capacity, size_t* n_values);
NIBBLE_API nibble_status nibble_embed_tokens(nibble_session* session, const nibble_token* tokens, size_t n_tokens,
                                             nibble_pooling pooling, float* values, size_t capacity, size_t* n_values);

/* ---- chat templates ---- */

typedef struct nibble_chat_message {
    const char* role;    /* "system", "user", "assistant" */
    const char* content; /* NUL-terminated UTF-8 */
} nibble_chat_message;

/* A built-in template by name ("chatml", ...; see nibble_chat_template_known_name). */
NIBBLE_API nibble_status nibble_chat_template_named(const char* name, nibble_chat_template** chat_template);
/* The template a model's file asks for, or override_name's when not NULL or empty. */
NIBBLE_API nibble_status nibble_chat_template_for_model(const nibble_model* model, const char* override_name,
                                                        nibble_chat_template** chat_template);
NIBBLE_API void nibble_chat_template_free(nibble_chat_template* chat_template);
/* Its name; the string belongs to the template. */
NIBBLE_API nibble_status nibble_chat_template_name(const nibble_chat_template* chat_template, const char** name);
/* The conversation as the model's prompt text, NUL-terminated, into text[capacity];
 * *length gets its length. add_generation_prompt opens the assistant's turn. */
NIBBLE_API nibble_status nibble_chat_template_render(const nibble_chat_template* chat_template,
                                                     const nibble_chat_message* messages, size_t n_messages,
                                                     bool add_generation_prompt, char* text, size_t capacity, size_t* length);
/* The strings that end the assistant's turn: *count of them, and each by index (owned
 * by the template). */
NIBBLE_API nibble_status nibble_chat_template_stop_string_count(const nibble_chat_template* chat_template, size_t* count);
NIBBLE_API nibble_status nibble_chat_template_stop_string(const nibble_chat_template* chat_template, size_t index,
                                                          const char** stop_string);
/* The built-in template names: *count of them, and each by index (static storage). */
NIBBLE_API nibble_status nibble_chat_template_known_name_count(size_t* count);
NIBBLE_API nibble_status nibble_chat_template_known_name(size_t index, const char** name);

#ifdef __cplusplus
}
#endif

#endif /* NIBBLE_NIBBLE_H */
