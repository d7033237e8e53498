// NIBBLE_API marks what a shared libnibble exports: the library is compiled with
// -fvisibility=hidden, so everything else stays inside it.
// Plain preprocessor: the C header nibble.h includes it too.
#pragma once

#if defined(_WIN32)
#define NIBBLE_API
#else
#define NIBBLE_API __attribute__((visibility("default")))
#endif
