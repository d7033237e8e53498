// nibble in a C++ application: load a model, tell a story as it is generated, save the
// conversation, and continue it later from the saved file.
//   hello-nibble MODEL.gguf [STATE_FILE]
#include <iostream>
#include <string>

#include <nibble/nibble.hpp>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " MODEL.gguf [STATE_FILE]\n";
        return 2;
    }
    const std::string state_file = argc > 2 ? argv[2] : "story.state";
    try {
        const nibble::Model model = nibble::Model::load(argv[1]);
        const nibble::GenerateOptions options{.max_tokens = 32, .sampling = {.temperature = 0.8f, .seed = 42}};
        const auto print = [](std::string_view piece) {
            std::cout << piece << std::flush;
            return true;  // false would stop the generation
        };

        nibble::Session session(model, {.context_length = 256});
        std::cout << "Once upon a time";
        session.generate("Once upon a time", options, print);
        session.save_state(state_file);  // the tokens, the cache and the sampler

        // Later, perhaps in another process: the same model, the saved state, and on.
        nibble::Session resumed(model, {.context_length = 256});
        resumed.load_state(state_file);
        const nibble::GenerateResult more = resumed.generate("", options, print);
        std::cout << "\n[" << resumed.position() << " tokens, " << more.generated.size() << " after resuming]\n";
    } catch (const nibble::Error& e) {  // the one exception type nibble throws
        std::cerr << "error (" << nibble::to_string(e.code()) << "): " << e.what() << "\n";
        return 1;
    }
    return 0;
}
