;; Grows its memory by 200 MiB and touches every page. `allocate` then answers 200;
;; `allocate_and_trap` traps with all of it still held. A grow refused (the store's
;; memory limit) traps too.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "Content-Type: text/plain\n\nallocated")
  (func $allocate
    (if (i32.eq (memory.grow (i32.const 3200)) (i32.const -1)) (then unreachable))
    (memory.fill (i32.const 65536) (i32.const 1) (i32.const 209715200)))
  (func (export "allocate")
    (call $allocate)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 35))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "allocate_and_trap")
    (call $allocate)
    unreachable)
  (func (export "_start") (call $allocate)))
