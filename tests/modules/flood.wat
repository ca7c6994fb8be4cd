;; Writes a header, then 64 KiB blocks forever, ignoring write errors: to stdout from
;; `_start`, to stderr from `stderr`.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 100) "Content-Type: text/plain\n\n")
  (func $flood (param $fd i32)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 26))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (memory.fill (i32.const 65536) (i32.const 120) (i32.const 65536))
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $forever
      (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $forever)))
  (func (export "_start") (call $flood (i32.const 1)))
  (func (export "stderr") (call $flood (i32.const 2))))
