;; A WAGI module exporting _routes: `/one one` and `/two/... two`; each export writes
;; its own response with WASI fd_write.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "/one one\n/two/... two\n")
  (data (i32.const 200) "Content-Type: text/plain\n\nfrom one")
  (data (i32.const 300) "Content-Type: text/plain\n\nfrom two")
  (data (i32.const 400) "Content-Type: text/plain\n\nfrom _start")
  (func $print (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_routes") (call $print (i32.const 100) (i32.const 22)))
  (func (export "one") (call $print (i32.const 200) (i32.const 34)))
  (func (export "two") (call $print (i32.const 300) (i32.const 34)))
  (func (export "_start") (call $print (i32.const 400) (i32.const 37))))
