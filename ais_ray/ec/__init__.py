"""Erasure coding (AIStore `ec/`): the codec over pyeclib, slices and metafiles on disk, encode and restore.

A layer between `fs`/`backends` and `jobs`: it may import `core`, `fs`, `stats`.
"""
