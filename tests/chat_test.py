#!/usr/bin/env python3
"""nibble-chat as a script and a person drive it, on the shipped stories260K model (which
has no chat template: --chat-template chatml). Through a pipe: a second turn depends on
the first, /reset starts over, /save and /load (in the same process and in a new one)
continue a conversation exactly. Through a pseudo-terminal: a prompt, a streaming reply,
Ctrl-C stops a reply and the program answers the next line, /quit and Ctrl-C at the
prompt exit 0. Usage: chat_test.py BIN_DIR SOURCE_DIR WORK_DIR [EMULATOR...]
"""
import os
import pty
import select
import subprocess
import sys
import time

bin_dir, source, work = (os.path.abspath(a) for a in sys.argv[1:4])
emulator = [a for a in sys.argv[4:] if a]
os.makedirs(work, exist_ok=True)
chat = emulator + [os.path.join(bin_dir, "nibble-chat")]
model = os.path.join(source, "models", "stories260K.gguf")
failures = []


def check(ok, what, detail=""):
    if not ok:
        failures.append(f"{what}\n{detail}")


def converse(lines, *flags):
    """stdout of one run fed these lines through a pipe (each reply, then an empty line)."""
    args = ["-m", model, "--chat-template", "chatml", "-n", "24", "-c", "512", "-t", "1", *flags]
    p = subprocess.run(chat + args, input="".join(line + "\n" for line in lines).encode(), capture_output=True,
                       timeout=300, cwd=work)
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode == 0, f"nibble-chat {lines}: exit 0 expected, got {p.returncode}", err)
    return p.stdout.decode("utf-8", "replace"), err


greedy = ["--temp", "0"]
first, other_first, second, third = ("Once upon a time there was a girl named Lily.", "The big dog ran to the park.",
                                     "What did she do next?", "And then?")

# 1. Through a pipe: replies on stdout only, each followed by an empty line.
one, err = converse([first], *greedy)
check(one.endswith("\n\n") and len(one.strip()) > 0 and not one.startswith(">"), "one turn: a reply and an empty line",
      repr(one))
two, _ = converse([first, second], *greedy)
check(two.startswith(one) and len(two) > len(one), "two turns: the first reply, then the second", repr(two))
second_reply = two[len(one):]
# /reset then the same two lines: the same replies (nothing carried over).
again, _ = converse([first, second, "/reset", first, second], *greedy)
check(again == two + two, "/reset then the same turns gives the same replies", f"{two!r}\n{again!r}")
# The second reply depends on the first turn.
other_one, _ = converse([other_first], *greedy)
other_two, _ = converse([other_first, second], *greedy)
check(other_two.startswith(other_one), "two turns (other first turn): first reply first", repr(other_two))
check(other_two[len(other_one):] != second_reply, "the second reply should depend on the first turn",
      f"{second_reply!r}\n{other_two!r}")
# Empty lines are not turns; an unknown command is reported on stderr, not stdout.
same, err = converse(["", first, "/nonsense", "", second], *greedy)
check(same == two and "unknown command /nonsense" in err, "empty lines and unknown commands leave the replies", err)

# 2. /save, /reset, /load continue a conversation exactly, with sampling (the saved
# sampler goes on with its random stream).
sampled = ["--temp", "0.8", "-s", "7"]
saved = os.path.join(work, "conversation.chat")
if os.path.exists(saved):
    os.remove(saved)
straight, _ = converse([first, second, third], *sampled)
through, err = converse([first, second, f"/save {saved}", "/reset", f"/load {saved}", third], *sampled)
check(through == straight and os.path.exists(saved), "/save /reset /load: the next reply as if never saved",
      f"{straight!r}\n{through!r}\n{err}")
check("saved 4 messages" in err and "loaded 4 messages" in err, "/save and /load report on stderr", err)
before, _ = converse([first, second, f"/save {saved}"], *sampled)
after, err = converse([f"/load {saved}", third], *sampled)
check(straight.startswith(before) and after == straight[len(before):], "/load in a new process continues exactly",
      f"{straight!r}\n{before!r}\n{after!r}\n{err}")
# A damaged or foreign file is an error on stderr; the conversation goes on.
junk = os.path.join(work, "junk.chat")
with open(junk, "wb") as f:
    f.write(b"13:nibble-chat 1\n6:chatml\n1:9\n")
out, err = converse([first, f"/load {junk}", f"/load {model}", f"/load {os.path.join(work, 'absent.chat')}"], *greedy)
check(out == one and err.count("/load: ") == 3, "bad /load files: three errors, the conversation kept", err)

# 3. Through a terminal: the prompt, a streaming reply stopped by Ctrl-C, the next line
# answered, /quit. A reply that would fill 16384 positions, with the scalar kernels on
# one thread, is long enough to interrupt.


def read_until(fd, done, timeout=60):
    data = b""
    deadline = time.time() + timeout
    while not done(data):
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program exited
            break
        if not chunk:
            break
        data += chunk
    return data


def start_terminal_chat(*flags):
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(work)
        env = dict(os.environ, NIBBLE_ISA="scalar")
        args = chat + ["-m", model, "--chat-template", "chatml", "-t", "1", *flags]
        os.execvpe(args[0], args, env)  # the emulator (qemu-aarch64) is found on PATH
    return pid, fd


def exit_status(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def alive(pid):
    return os.waitpid(pid, os.WNOHANG)[0] == 0


pid, fd = start_terminal_chat("-n", "-1", "--ignore-eos", "-c", "16384", "--temp", "0")
seen = read_until(fd, lambda d: d.endswith(b"> "))
check(seen.endswith(b"> "), "a terminal gets a prompt", repr(seen[-300:]))
for turn, line in enumerate([b"Once upon a time\n", b"Tell me more\n"]):
    os.write(fd, line)
    streamed = read_until(fd, lambda d: len(d) > len(line) + 200)
    check(len(streamed) > len(line) + 200 and alive(pid), f"turn {turn + 1}: the reply streams", repr(streamed[-300:]))
    os.write(fd, b"\x03")
    rest = read_until(fd, lambda d: d.endswith(b"> "), timeout=30)
    check(rest.endswith(b"> ") and alive(pid), f"turn {turn + 1}: Ctrl-C stops the reply and prompts again",
          repr(rest[-300:]))
os.write(fd, b"/quit\n")
read_until(fd, lambda d: False, timeout=10)
rc = exit_status(pid)
check(rc == 0, f"/quit: exit 0 expected, got {rc}")
os.close(fd)

pid, fd = start_terminal_chat("-n", "8")
seen = read_until(fd, lambda d: d.endswith(b"> "))
os.write(fd, b"\x03")
read_until(fd, lambda d: False, timeout=10)
rc = exit_status(pid)
check(seen.endswith(b"> ") and rc == 0, f"Ctrl-C at the prompt: exit 0 expected, got {rc}", repr(seen[-300:]))
os.close(fd)

if failures:
    print(f"{len(failures)} failures:")
    for f in failures:
        print("- " + f)
    sys.exit(1)
print("nibble-chat behaves through a pipe and a terminal")
