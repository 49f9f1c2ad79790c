"""Real servers for tests and benchmarks: storage emulators and a fault-injecting HTTP source.

Ships in the package (not under tests/) because the benchmarks start the same servers.
"""
