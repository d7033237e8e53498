// The smallest application: load the model nibble installs and tell a story.
#include <iostream>

#include <nibble/nibble.hpp>

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : NIBBLE_MODEL;
    try {
        const auto model = nibble::Model::load(path);
        nibble::Session session(model, {.threads = 1});
        std::cout << "Once upon a time";
        session.generate("Once upon a time", {.max_tokens = 40, .sampling = {.temperature = 0.0f}},
                         [](std::string_view piece) {
                             std::cout << piece << std::flush;
                             return true;
                         });
        std::cout << "\n";
    } catch (const nibble::Error& e) {
        std::cerr << "consumer: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
