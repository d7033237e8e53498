// Tiny command-line helpers shared by the example programs.
#pragma once

#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::cli {

class Args {
public:
    Args(int argc, char** argv) : args_(argv + 1, argv + argc) {}

    bool done() const { return i_ >= args_.size(); }
    std::string_view next() { return args_[i_++]; }
    std::string value(std::string_view flag) {
        if (done()) throw std::invalid_argument(std::string(flag) + " needs a value");
        return args_[i_++];
    }
    int int_value(std::string_view flag) { return parse<int>(flag, [](const std::string& s, size_t* p) { return std::stoi(s, p); }); }
    long long long_value(std::string_view flag) {
        return parse<long long>(flag, [](const std::string& s, size_t* p) { return std::stoll(s, p); });
    }
    float float_value(std::string_view flag) {
        return parse<float>(flag, [](const std::string& s, size_t* p) { return std::stof(s, p); });
    }

private:
    template <class T, class F>
    T parse(std::string_view flag, F convert) {
        const std::string v = value(flag);
        try {
            size_t used = 0;
            T out = convert(v, &used);
            if (used == v.size()) return out;
        } catch (const std::exception&) {
        }
        throw std::invalid_argument(std::string(flag) + ": '" + v + "' is not a valid number");
    }
    std::vector<std::string> args_;
    size_t i_ = 0;
};

}  // namespace nibble::cli
