#!/usr/bin/env python3
"""nibble-bench -o json with a hostile model path (a quote, a backslash and a newline in
it) gives JSON that Python's json module reads, with llama-bench's fields and types.
Usage: bench_json_test.py BIN_DIR SOURCE_DIR WORK [EMULATOR...]
"""
import json
import os
import shutil
import subprocess
import sys

bin_dir, source, work = (os.path.abspath(a) for a in sys.argv[1:4])
emulator = [a for a in sys.argv[4:] if a]
shutil.rmtree(work, ignore_errors=True)
folder = os.path.join(work, 'a "quoted"\\ folder\nwith a newline')
os.makedirs(folder)
model = os.path.join(folder, 'story\\"s\n260K.gguf')
shutil.copy(os.path.join(source, "models", "stories260K.gguf"), model)

cmd = emulator + [os.path.join(bin_dir, "nibble-bench"), "-m", model, "-p", "8", "-n", "4", "-t", "1", "-r", "2",
                  "--probe-mib", "8", "-o", "json"]
p = subprocess.run(cmd, capture_output=True, timeout=300)
if p.returncode != 0:
    sys.exit(f"nibble-bench failed ({p.returncode}): {p.stderr.decode()}")
records = json.loads(p.stdout)  # raises on invalid JSON
assert isinstance(records, list) and len(records) == 2, records

types = {"build_commit": str, "build_number": int, "cpu_info": str, "model_filename": str, "model_type": str,
         "model_size": int, "model_n_params": int, "n_batch": int, "n_threads": int, "type_k": str, "type_v": str,
         "n_prompt": int, "n_gen": int, "n_depth": int, "test_time": str, "avg_ns": int, "stddev_ns": int, "avg_ts": float,
         "stddev_ts": float, "samples_ns": list, "samples_ts": list,
         # nibble's own
         "isa": str, "bandwidth_gbs": float, "probe_gbs": float, "peak_rss_bytes": int}
for r in records:
    for field, t in types.items():
        assert field in r, f"no {field} in {r}"
        assert isinstance(r[field], t) and not (t is int and isinstance(r[field], bool)), \
            f"{field} is {type(r[field]).__name__}, llama-bench writes {t.__name__}"
    assert r["model_filename"] == model, (r["model_filename"], model)
    assert len(r["samples_ns"]) == 2 and all(isinstance(x, int) for x in r["samples_ns"])
    assert (r["type_k"], r["type_v"], r["n_depth"]) == ("f16", "f16", 0), r
    assert all(isinstance(x, float) for x in r["samples_ts"])
    assert r["avg_ts"] > 0 and r["model_size"] > 0
    assert r["build_commit"] == "unknown" or all(c in "0123456789abcdef" for c in r["build_commit"]), r["build_commit"]
print(f"{len(records)} records parse, model_filename {records[0]['model_filename']!r}")

# -d (llama-bench's depth) and -ctk/-ctv go into the records.
p = subprocess.run(emulator + [os.path.join(bin_dir, "nibble-bench"), "-m", model, "-p", "4", "-n", "2", "-t", "1", "-r", "1",
                               "-d", "6", "-ctk", "q8_0", "-ctv", "f32", "--probe-mib", "0", "-o", "json"],
                   capture_output=True, timeout=300)
if p.returncode != 0:
    sys.exit(f"nibble-bench -d failed ({p.returncode}): {p.stderr.decode()}")
for r in json.loads(p.stdout):
    assert (r["type_k"], r["type_v"], r["n_depth"]) == ("q8_0", "f32", 6), r
    # 5 layers x (6 + 4 or 2 positions, at least 16) x (34 + 128 bytes)
    assert r["kv_cache_bytes"] == 5 * 16 * (34 + 128), r["kv_cache_bytes"]
