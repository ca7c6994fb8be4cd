;; A handler that takes its time: writes a line to stderr, spins for 300 ms of the
;; monotonic clock, then answers "done". Longer than a quick run may take on the
;; server's event loop, so the server must stop it, run it again on a thread, and log
;; its stderr once.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "slow handler ran\n")
  (data (i32.const 200) "Content-Type: text/plain\n\ndone")
  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 16)))
    (i64.load (i32.const 16)))
  (func $write (param $fd i32) (param $at i32) (param $length i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $length))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (local $until i64)
    (call $write (i32.const 2) (i32.const 100) (i32.const 17))
    (local.set $until (i64.add (call $now) (i64.const 300000000)))
    (loop $spin (br_if $spin (i64.lt_u (call $now) (local.get $until))))
    (call $write (i32.const 1) (i32.const 200) (i32.const 30))))
