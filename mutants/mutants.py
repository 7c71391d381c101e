#!/usr/bin/env python3
"""mutants.py: the mutation harness of the conformance suite (issue 11).

A mutant is a small plausible implementer bug, kept outside the core's source
as mutants/NAME.mut; an allowed variant (mutants/variants/NAME.mut) differs
from the reference only where PROTOCOL.md leaves the choice free. The file
format is in conformance/README.md ("Mutants"). Subcommands:

  build NAME      apply NAME's edits to copies of the files they touch, compile
                  only those, link $B/mutants/NAME/mychat-server against the
                  normal objects otherwise (make runs this, one per mutant)
  names           every mutant and variant name (for the Makefile)
  run [NAME...]   the conformance suite against every mutant and variant,
                  two at a time; a mutant's run stops at its first failing
                  case; prints the table and the score (`make mutants`)

The build reads CC, CFLAGS (the project's full compile flags), SAN, LDLIBS
and SERVER_OBJ from the environment, as the Makefile passes them.
"""
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

TARGET = 0.95          # the score `run` demands (issue 11)
MIN_MUTANTS = 60       # non-equivalent mutants at least
PARALLEL = 2           # mutants run at a time (a 2-core machine)
CASE_TIMEOUT = 150     # seconds for one case (the longest takes about 8)
STARTUP_TIMEOUT = 10   # seconds for a server to say it is online
STD_FLAGS = "--rate-burst 1000 --rate-refill-ms 10 --keepalive-ms 500 --timeout-ms 2000"
KEYS = ("breaks", "allows", "why", "killed-by", "equivalent", "file", "find",
        "replace")


class MutantError(Exception):
    """A mutant file that does not parse or no longer applies."""


# Every child process running now (servers and suite runs), so that an
# interrupted run ends them all instead of leaving servers behind.
CHILDREN = set()
CHILDREN_LOCK = threading.Lock()
STOPPING = threading.Event()


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    with CHILDREN_LOCK:
        CHILDREN.add(p)
    return p


def reap(p):
    if p.poll() is None:
        p.kill()
    p.wait()
    with CHILDREN_LOCK:
        CHILDREN.discard(p)


def stop_everything(*_):
    STOPPING.set()
    with CHILDREN_LOCK:
        for p in list(CHILDREN):
            if p.poll() is None:
                p.kill()


# ---- .mut files ----

def mut_paths():
    """Every mutant and variant file, mutants first, each list sorted."""
    return (sorted(glob.glob("mutants/*.mut")) +
            sorted(glob.glob("mutants/variants/*.mut")))


def mut_name(path):
    return os.path.basename(path)[:-len(".mut")]


def parse(path):
    """Returns the mutant in |path| as a dict: name, kind (mutant or variant),
    breaks (MC-n list), why, killed_by, equivalent, edits (file, find,
    replace). Consecutive find: (replace:) lines join with newlines into one
    text; a find: after a replace: starts the next edit."""
    m = {"name": mut_name(path), "path": path, "breaks": [], "why": "",
         "killed_by": [], "equivalent": "", "edits": [],
         "kind": "variant" if "/variants/" in path else "mutant"}
    edit = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, line in enumerate(lines, 1):
        if line.startswith("#") and edit is None:
            continue
        key, sep, value = line.partition(":")
        if not sep or key not in KEYS:
            raise MutantError(f"{path}:{no}: not 'key: value' with a key of "
                              f"{', '.join(KEYS)}")
        value = value[1:] if value.startswith(" ") else value
        if key in ("breaks", "allows"):
            m["breaks"] += value.split()
        elif key == "killed-by":
            m["killed_by"] += value.split()
        elif key in ("why", "equivalent"):
            m[key] = (m[key] + " " + value).strip()
        elif key == "file":
            edit = {"file": value.strip(), "find": [], "replace": None}
            m["edits"].append(edit)
        elif key == "find":
            if edit is None or edit["replace"] is not None:
                edit = {"file": None, "find": [], "replace": None}
                m["edits"].append(edit)
            edit["find"].append(value)
        else:
            if edit is None or not edit["find"]:
                raise MutantError(f"{path}:{no}: replace: before any find:")
            edit["replace"] = (edit["replace"] or []) + [value]
    for i, e in enumerate(m["edits"], 1):
        if not e["find"] or e["replace"] is None:
            raise MutantError(f"{path}: edit {i} needs find: and replace:")
        e["find"] = "\n".join(e["find"])
        e["replace"] = "\n".join(e["replace"])
    if not m["edits"] or not m["why"]:
        raise MutantError(f"{path}: needs why: and at least one edit")
    if not all(re.fullmatch(r"MC-\d+", b) for b in m["breaks"]) or \
            not m["breaks"]:
        raise MutantError(f"{path}: breaks:/allows: must list MC-n")
    return m


# ---- building ----

def server_sources(b):
    """The sources of every object linked into mychat-server: members of the
    two libraries and the server's own objects, as repository paths."""
    objs = []
    for lib in ("libmychat.a", "libmcref.a"):
        out = subprocess.run(["ar", "t", os.path.join(b, lib)], check=True,
                             capture_output=True, text=True).stdout
        objs += out.split()
    objs += [os.path.basename(o) for o in os.environ["SERVER_OBJ"].split()]
    srcs = []
    for o in objs:
        for d in ("lib", "reference"):
            p = os.path.join(d, o[:-2] + ".c")
            if os.path.exists(p):
                srcs.append(p)
    return srcs


def apply_edits(m, srcs):
    """Applies |m|'s edits to the texts of the files they touch. Returns
    {path: new text}. Each find text must occur exactly once: in its file:,
    or else in all of |srcs| together (so a mutant survives code moving
    between files)."""
    texts, changed = {}, set()

    def text_of(p):
        if p not in texts:
            with open(p, encoding="utf-8") as f:
                texts[p] = f.read()
        return texts[p]

    for i, e in enumerate(m["edits"], 1):
        where = [e["file"]] if e["file"] else srcs
        hits = [(p, text_of(p).count(e["find"])) for p in where
                if os.path.exists(p)]
        total = sum(n for _, n in hits)
        first = e["find"].split("\n")[0].strip()
        if total != 1:
            found = ", ".join(f"{p} ({n})" for p, n in hits if n) or "nowhere"
            raise MutantError(
                f"mutant {m['name']} does not apply: edit {i} ('{first}' ...) "
                f"must occur exactly once in {' '.join(where)}; found {found}")
        p = next(p for p, n in hits if n)
        texts[p] = texts[p].replace(e["find"], e["replace"])
        changed.add(p)
    return {p: texts[p] for p in changed}


def run_cmd(cmd, log):
    log.write(" ".join(cmd) + "\n")
    log.flush()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)


def build(b, name):
    path = next((p for p in mut_paths() if mut_name(p) == name), None)
    if path is None:
        raise MutantError(f"no mutant or variant named {name}")
    m = parse(path)
    texts = apply_edits(m, server_sources(b))
    out = os.path.join(b, "mutants", name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "obj"))
    server_obj = os.environ["SERVER_OBJ"].split()
    libs = {lib: os.path.join(out, lib) for lib in ("libmcref.a",
                                                    "libmychat.a")}
    for lib, copy in libs.items():
        shutil.copy(os.path.join(b, lib), copy)
    with open(os.path.join(out, "build.log"), "w") as log:
        try:
            link(out, texts, libs, server_obj, log)
        except subprocess.CalledProcessError:
            log.close()
            with open(os.path.join(out, "build.log")) as f:
                sys.stderr.write(f.read())
            raise MutantError(f"mutant {name} does not build "
                              f"({os.path.join(out, 'build.log')})")


def link(out, texts, libs, server_obj, log):
    """Compiles the edited |texts| and links the mutant server in |out|."""
    cc = shlex.split(os.environ.get("CC", "cc"))
    cflags = shlex.split(os.environ.get("CFLAGS", ""))
    for src, text in texts.items():
        copy = os.path.join(out, "src", src)
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text)
        obj = os.path.join(out, "obj",
                           os.path.basename(src)[:-2] + ".o")
        # The copy's own directory has none of its headers: search the
        # original's first, as the normal build does.
        run_cmd(cc + ["-iquote", os.path.dirname(src)] + cflags +
                ["-c", copy, "-o", obj], log)
        mine = [o for o in server_obj
                if os.path.basename(o) == os.path.basename(obj)]
        if mine:
            server_obj = [obj if o in mine else o for o in server_obj]
        else:
            lib = "libmcref.a" if src.startswith("reference/") \
                else "libmychat.a"
            run_cmd(["ar", "rcs", libs[lib], obj], log)
    run_cmd(cc + shlex.split(os.environ.get("SAN", "")) +
            ["-o", os.path.join(out, "mychat-server")] + server_obj +
            [libs["libmcref.a"], libs["libmychat.a"]] +
            shlex.split(os.environ.get("LDLIBS", "")), log)


# ---- running the suite ----

def case_flags():
    """{case: server flags} from captures/*.case."""
    flags = {}
    for p in sorted(glob.glob("captures/*.case")):
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.startswith("server: "):
                    flags[os.path.basename(p)[:-5]] = line[8:].strip()
    return flags


class Server:
    """One mychat-server on a free loopback port, with its own database."""

    def __init__(self, binary, flags, tmp, tag):
        self.out = os.path.join(tmp, tag + ".out")
        with open(self.out, "w") as o:
            self.proc = spawn(
                [binary, "--host", "127.0.0.1", "--port", "0", "--db",
                 os.path.join(tmp, tag + ".db"), "--hash-cost", "min",
                 "--log", os.path.join(tmp, tag + ".log")] + flags.split(),
                stdin=subprocess.DEVNULL, stdout=o, stderr=subprocess.STDOUT)
        self.port = None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.out) as o:
                found = re.search(r"now online\S*\s+\S*:(\d+)", o.read())
            if found:
                self.port = found.group(1)
                return
            time.sleep(0.05)

    def alive(self):
        return self.port is not None and self.proc.poll() is None

    def stop(self):
        reap(self.proc)


def conform(b, port, cases, out, extra=()):
    """Runs mychat-conform on |cases| (none: the whole standard set) against
    |port|, output to file |out|. Returns its exit status (124: timed
    out)."""
    with open(out, "w") as o:
        p = spawn([os.path.join(b, "mychat-conform"), "--server",
                   "127.0.0.1:" + port] + list(extra) + list(cases),
                  stdout=o, stderr=subprocess.STDOUT,
                  stdin=subprocess.DEVNULL)
        try:
            return p.wait(timeout=CASE_TIMEOUT)
        except subprocess.TimeoutExpired:
            return 124
        finally:
            reap(p)


def case_results(out):
    """[(case, passed, seconds)] from a mychat-conform output file."""
    res = []
    with open(out, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            found = re.match(r"\s*(\u2713|\u2717) ([^:]+):.*?(?:\(([\d.]+) s\))?$",
                             line.rstrip())
            if found:
                res.append((found.group(2), found.group(1) == "\u2713",
                            float(found.group(3) or 0)))
    return res


class Runner:
    """Runs cases against one server binary, a server per flag set started
    on first need."""

    def __init__(self, b, binary, tmp):
        self.b, self.binary, self.tmp = b, binary, tmp
        self.servers = {}
        self.runs = 0

    def server(self, flags):
        s = self.servers.get(flags)
        if s is None or not s.alive():
            if s is not None:
                s.stop()
            s = Server(self.binary, flags, self.tmp, f"srv{len(self.servers)}"
                       f"_{self.runs}")
            self.servers[flags] = s
        return s

    def case(self, name, flags):
        """Runs case |name|. Returns (passed, note)."""
        if STOPPING.is_set():
            raise KeyboardInterrupt
        self.runs += 1
        s = self.server(flags)
        if not s.alive():
            return False, "the server did not start"
        out = os.path.join(self.tmp, f"{self.runs}_{name}.txt")
        rc = conform(self.b, s.port, [name], out,
                     ["--strict", "--server-flags", flags])
        if rc == 0:
            return True, ""
        if not s.alive():
            return False, "the server exited"
        if rc == 124:
            return False, "timed out"
        if rc != 1:
            with open(out, errors="replace") as f:
                return False, "mychat-conform: " + f.read().strip()[-200:]
        return False, ""

    def stop(self):
        for s in self.servers.values():
            s.stop()


def baseline(b, flags_of, tmp):
    """Runs every case on the reference, a server per flag set, all sets at
    once. Returns [(case, flags, seconds)] sorted by time, or raises when the
    reference fails a case twice."""
    sets = sorted(set(flags_of.values()))

    def one(k_flags):
        k, flags = k_flags
        s = Server(os.path.join(b, "mychat-server"), flags, tmp, f"ref{k}")
        if not s.alive():
            raise MutantError(f"the reference server did not start ({flags})")
        out = os.path.join(tmp, f"ref{k}.txt")
        conform(b, s.port, [], out, ["--strict", "--server-flags", flags])
        s.stop()
        # A server with other flags may also run a case whose needs they
        # happen to meet: each case counts on its own flags only.
        return [(c, ok, t, flags) for c, ok, t in case_results(out)
                if flags_of.get(c.removeprefix("mutation-")) == flags]

    with ThreadPoolExecutor(len(sets)) as ex:
        rows = [r for part in ex.map(one, enumerate(sets)) for r in part]
    runner = Runner(b, os.path.join(b, "mychat-server"), tmp)
    try:
        for c, ok, _, flags in rows:
            # Run alone, a case that failed in the crowd of the first round
            # gets two more tries: the reference must pass, but a loaded
            # machine can make a timing case miss.
            if not ok and not (runner.case(c, flags)[0] or
                               runner.case(c, flags)[0]):
                raise MutantError(f"the reference server fails case {c}")
    finally:
        runner.stop()
    missing = set(flags_of) - {r[0] for r in rows}
    if missing:
        raise MutantError("cases the reference run did not report: " +
                          " ".join(sorted(missing)))
    return sorted(((c, f, t) for c, _, t, f in rows), key=lambda r: r[2])


def run_one(b, m, cases):
    """Runs the suite against mutant or variant |m|, cheapest case first.
    A mutant stops at its first failing case; a case that fails once and
    passes when run again counts as passed (the machine is loaded), so only
    a repeatable failure kills. Returns (killer case or None, notes)."""
    tmp = tempfile.mkdtemp(prefix=f"mc-mut-{m['name']}.")
    runner = Runner(b, os.path.join(b, "mutants", m["name"], "mychat-server"),
                    tmp)
    killer, notes = None, []
    try:
        for c, flags, _ in cases:
            ok, note = runner.case(c, flags)
            if not ok and note not in ("the server exited",
                                       "the server did not start"):
                ok, note = runner.case(c, flags)
                if ok:
                    notes.append(f"{c} failed once, passed again")
            if not ok:
                killer = c + (f" ({note})" if note else "")
                if m["kind"] == "mutant":
                    break
                notes.append(killer)
    finally:
        runner.stop()
    if killer is None or m["kind"] == "mutant":
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        notes.append(f"outputs in {tmp}")
    return killer, notes


def cmd_run(b, names):
    muts = [parse(p) for p in mut_paths()]
    if names:
        muts = [m for m in muts if m["name"] in names]
    flags_of = case_flags()
    tmp = tempfile.mkdtemp(prefix="mc-mut-ref.")
    t0 = time.monotonic()
    cases = baseline(b, flags_of, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"reference: {len(cases)} cases pass "
          f"({time.monotonic() - t0:.0f} s); running {len(muts)} mutants "
          f"and variants, {PARALLEL} at a time", flush=True)
    todo = [m for m in muts if not m["equivalent"]]

    def one(m):
        t = time.monotonic()
        killer, notes = run_one(b, m, cases)
        return m, killer, notes, time.monotonic() - t

    results = {}
    with ThreadPoolExecutor(PARALLEL) as ex:
        for m, killer, notes, secs in ex.map(one, todo):
            results[m["name"]] = (killer, notes)
            verdict = (("killed by " + killer) if killer else "SURVIVED") \
                if m["kind"] == "mutant" else \
                ("FAILED: " + killer if killer else "passed")
            print(f"  {m['name']:<32} {' '.join(m['breaks']):<18} "
                  f"{verdict} ({secs:.0f} s)", flush=True)
            for n in notes:
                print(f"      {n}", flush=True)
    return report(muts, results, time.monotonic() - t0)


def report(muts, results, secs):
    mutants = [m for m in muts if m["kind"] == "mutant"]
    variants = [m for m in muts if m["kind"] == "variant"]
    equiv = [m for m in mutants if m["equivalent"]]
    live = [m for m in mutants if not m["equivalent"]]
    killed = [m for m in live if results[m["name"]][0]]
    survivors = [m for m in live if not results[m["name"]][0]]
    failed = [m for m in variants if results[m["name"]][0]]
    print()
    print(f"{'mutant':<32} {'MC-n':<18} killed-by")
    for m in sorted(live, key=lambda m: m["name"]):
        k = results[m["name"]][0]
        print(f"{m['name']:<32} {' '.join(m['breaks']):<18} "
              f"{k if k else 'SURVIVED'}")
    print()
    print(f"{'variant':<32} {'allowed by':<18} verdict")
    for m in variants:
        k = results[m["name"]][0]
        print(f"{m['name']:<32} {' '.join(m['breaks']):<18} "
              f"{'FAILED: ' + k if k else 'passed'}")
    score = len(killed) / len(live) if live else 0.0
    print()
    print(f"score: {len(killed)} killed / {len(live)} non-equivalent = "
          f"{100 * score:.1f}% (target {100 * TARGET:.0f}%); "
          f"{len(variants) - len(failed)}/{len(variants)} variants pass; "
          f"{secs:.0f} s")
    for m in survivors:
        print(f"survivor: {m['name']} ({' '.join(m['breaks'])}): {m['why']}")
    for m in equiv:
        print(f"equivalent: {m['name']} ({' '.join(m['breaks'])}): "
              f"{m['equivalent']}")
    for m in failed:
        print(f"variant FAILED: {m['name']}: {results[m['name']][0]}")
    ok = not failed and score >= TARGET and len(live) >= MIN_MUTANTS
    if len(live) < MIN_MUTANTS:
        print(f"too few mutants: {len(live)} non-equivalent, want "
              f"{MIN_MUTANTS}")
    return 0 if ok else 1


def main(argv):
    b = os.environ.get("B", "build")
    signal.signal(signal.SIGTERM, stop_everything)
    signal.signal(signal.SIGINT, stop_everything)
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[1] == "names":
            print(" ".join(mut_name(p) for p in mut_paths()))
            return 0
        if argv[1] == "build" and len(argv) == 3:
            build(b, argv[2])
            return 0
        if argv[1] == "run":
            return cmd_run(b, argv[2:])
    except MutantError as e:
        print("mutants: " + str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stop_everything()
        print("mutants: interrupted", file=sys.stderr)
        return 130
    except subprocess.CalledProcessError as e:
        print(f"mutants: {' '.join(e.cmd)} failed (exit {e.returncode})",
              file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
