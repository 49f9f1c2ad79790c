"""Real servers for tests and benchmarks: storage emulators and a fault-injecting HTTP source; the
failure drills (`drills.py`) that `scripts/drills.py`, the multi-node tests and a benchmark share.

Ships in the package (not under tests/) because the benchmarks start the same servers.
"""
