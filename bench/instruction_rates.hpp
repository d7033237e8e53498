// The issue rates of the int8 dot instructions the kernel tables use, measured on this core.
#pragma once

#include <vector>

namespace nibble::bench {

struct InstructionRate {
    const char* instruction;  ///< e.g. "vpmaddubsw ymm"
    int products;             ///< int8 products one instruction makes
    double per_cycle;         ///< instructions retired per clock cycle, independent ones back to back
    double gops;              ///< 2 * products * instructions per second / 1e9 (one thread)
};

/// The core's clock while busy, from a chain of dependent adds (one per cycle).
double cycles_per_second();

/// Every int8 dot instruction of this CPU's tables (AVX2 maddubs, AVX-512, VNNI; NEON
/// smull and sdot), each in a loop of independent instructions.
std::vector<InstructionRate> int8_instruction_rates();

}  // namespace nibble::bench
