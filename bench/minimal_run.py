#!/usr/bin/env python3
"""The floor for `yowasm run`: the least a wasmtime-py program does to run a WASI
command module (the same engine settings as yowasm: compiled code cached on disk).

    python3 bench/minimal_run.py MODULE [ARGS...]
"""

import sys

import wasmtime

config = wasmtime.Config()
config.cache = True
engine = wasmtime.Engine(config)
module = wasmtime.Module.from_file(engine, sys.argv[1])
wasi = wasmtime.WasiConfig()
wasi.argv = sys.argv[1:]
wasi.inherit_stdin()
wasi.inherit_stdout()
wasi.inherit_stderr()
store = wasmtime.Store(engine)
store.set_wasi(wasi)
linker = wasmtime.Linker(engine)
linker.define_wasi()
try:
    linker.instantiate(store, module).exports(store)["_start"](store)
except wasmtime.ExitTrap as exit_:
    sys.exit(exit_.code)
