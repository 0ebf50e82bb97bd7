"""Random allocation sequences replayed through the study's allocsim.py (../shared/tools/allocator/,
PyTorch CUDACachingAllocator default config); writes allocsim-sequences.json with each sequence's
peak allocated, peak reserved, final reserved and the sizes of its final free blocks.
Run: python3 make_sequences.py /path/to/allocsim/dir"""
import json, random, sys
sys.path.insert(0, sys.argv[1])
from allocsim import Allocator, replay

MiB = 1 << 20
def sequence(seed, n):
    rng = random.Random(seed)
    live, events, next_id = [], [], 0
    for _ in range(n):
        if live and rng.random() < 0.45:
            key = live.pop(rng.randrange(len(live)))
            events.append(['f', key])
        else:
            kind = rng.random()
            if kind < 0.3: size = rng.randint(1, MiB)                 # small pool
            elif kind < 0.6: size = rng.randint(MiB + 1, 10 * MiB)   # 20 MiB segments
            elif kind < 0.9: size = rng.randint(10 * MiB, 300 * MiB) # rounded segments
            else: size = rng.choice([512, 2 * MiB, 20 * MiB, 64 * MiB])
            next_id += 1
            events.append(['a', next_id, size])
            live.append(next_id)
    return events

out = {"source": "allocsim.py of the allocator study (PyTorch 2.10 CUDACachingAllocator rules, default settings), "
       "replaying make_sequences.py's random sequences", "sequences": []}
for seed, n in [(1, 200), (2, 400), (3, 800), (4, 1500)]:
    ev = sequence(seed, n)
    A, _ = replay([tuple(e) if e[0] == 'f' else ('a', e[1], e[2]) for e in ev])
    out["sequences"].append(dict(seed=seed, events=ev, peak_allocated=A.peak_allocated, peak_reserved=A.peak_reserved,
                                 reserved=A.reserved, allocated=A.allocated, free_blocks=A.free_bytes_by_block()))
json.dump(out, open("allocsim-sequences.json", "w"), separators=(",", ":"))
print([(s["seed"], s["peak_reserved"] // MiB, len(s["free_blocks"])) for s in out["sequences"]])
