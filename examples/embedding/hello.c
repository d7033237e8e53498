/* nibble in a C application: load a model, tell a story as it is generated, save the
 * conversation, and continue it later from the saved file.
 *   hello-nibble-c MODEL.gguf [STATE_FILE] */
#include <stdio.h>

#include <nibble/nibble.h>

static int print_piece(const char* piece, size_t length, void* user_data) {
    (void)user_data;
    fwrite(piece, 1, length, stdout);
    fflush(stdout);
    return 1; /* 0 would stop the generation */
}

/* Prints what failed and gives the exit status. */
static int fail(nibble_status status) {
    fprintf(stderr, "error (%s): %s\n", nibble_status_name(status), nibble_last_error());
    return 1;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [STATE_FILE]\n", argv[0]);
        return 2;
    }
    const char* state_file = argc > 2 ? argv[2] : "story.state";
    nibble_model* model = NULL;
    nibble_session* session = NULL;
    nibble_session* resumed = NULL;
    nibble_status status = nibble_model_load(argv[1], NULL, &model);

    nibble_session_options session_options = nibble_session_options_default();
    session_options.context_length = 256;
    nibble_generate_options options = nibble_generate_options_default();
    options.max_tokens = 32;
    options.sampling.temperature = 0.8f;
    options.sampling.seed = 42;
    options.on_piece = print_piece;

    if (status == NIBBLE_OK) status = nibble_session_create(model, &session_options, &session);
    if (status == NIBBLE_OK) {
        fputs("Once upon a time", stdout);
        status = nibble_generate(session, "Once upon a time", 16, &options, NULL);
    }
    /* The tokens, the cache and the sampler, to a file. */
    if (status == NIBBLE_OK) status = nibble_session_save_state_file(session, state_file);

    /* Later, perhaps in another process: the same model, the saved state, and on. */
    nibble_generate_result more;
    uint32_t position = 0;
    if (status == NIBBLE_OK) status = nibble_session_create(model, &session_options, &resumed);
    if (status == NIBBLE_OK) status = nibble_session_load_state_file(resumed, state_file);
    if (status == NIBBLE_OK) status = nibble_generate(resumed, NULL, 0, &options, &more);
    if (status == NIBBLE_OK) status = nibble_session_position(resumed, &position);
    if (status == NIBBLE_OK) printf("\n[%u tokens, %zu after resuming]\n", (unsigned)position, more.n_generated);

    const int exit_code = status == NIBBLE_OK ? 0 : fail(status);
    nibble_session_free(resumed); /* freeing NULL does nothing */
    nibble_session_free(session);
    nibble_model_free(model);
    return exit_code;
}
