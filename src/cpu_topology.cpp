// Physical core count from Linux's topology files, limited to the CPUs we may run on.
#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "nibble/nibble.hpp"

namespace nibble {
namespace {

int read_int(const std::string& path) {
    std::ifstream in(path);
    int value = -1;
    in >> value;
    return in ? value : -1;
}

int count_physical_cores() {
#if defined(__linux__)
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
        std::set<std::pair<int, int>> cores;  // (package, core) pairs
        int cpus = 0;
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (!CPU_ISSET(cpu, &allowed)) continue;
            ++cpus;
            const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
            const int package = read_int(base + "physical_package_id");
            const int core = read_int(base + "core_id");
            if (core < 0) return cpus > 0 ? CPU_COUNT(&allowed) : 0;  // no topology: count CPUs
            cores.insert({package, core});
        }
        if (!cores.empty()) return static_cast<int>(cores.size());
    }
#endif
    return static_cast<int>(std::thread::hardware_concurrency());
}

}  // namespace

int physical_core_count() {
    static const int cores = [] {
        const int n = count_physical_cores();
        return n > 0 ? n : 1;
    }();
    return cores;
}

}  // namespace nibble
