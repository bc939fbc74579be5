// mimalloc: the engine allocates and frees a few small objects per decoded
// message, often on another thread than the one that allocated them (a
// shard decodes, the merger writes and drops); with glibc's allocator that
// was a quarter of `stats`. Transparent huge pages off: with them a 40 MB
// run showed 85 MB resident.
#[global_allocator]
static GLOBAL: Mimalloc = Mimalloc;

/// mimalloc, called straight for the alignments every block of it has.
///
/// `mimalloc::MiMalloc` asks for every allocation by mimalloc's aligned
/// entry points, which work the alignment out again on each call (1.3 % of
/// the instructions of `stats`; interleaved runs of `stats` on the 1 GiB
/// mixed capture were 2–3 % faster without). Every mimalloc block is
/// aligned to 8 bytes at least (block sizes are whole words), so a layout
/// of alignment 8 or less (nearly all of them: bytes, strings, vectors of
/// words) goes to `mi_malloc`, `mi_zalloc` and `mi_realloc`; any other to
/// `MiMalloc`.
struct Mimalloc;

/// The alignment of every mimalloc block (`MI_INTPTR_SIZE`).
const MI_MIN_ALIGN: usize = 8;

extern "C" {
    fn mi_malloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_zalloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_realloc(p: *mut std::ffi::c_void, newsize: usize) -> *mut std::ffi::c_void;
}

/// Any mimalloc block has alignment `align`.
fn plain(align: usize) -> bool {
    align <= MI_MIN_ALIGN
}

// SAFETY: each call goes to mimalloc's own function for it, linked in by
// the `mimalloc` crate: blocks of at least the size asked for, with at
// least the alignment asked for (see `plain`), null on failure; any block
// is freed by `mi_free` (`MiMalloc::dealloc`) whichever entry point made
// it, and `mi_realloc` keeps the contents as `GlobalAlloc::realloc` must.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if plain(layout.align()) {
            // SAFETY: see the impl.
            unsafe { mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: the caller's promises are passed on.
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if plain(layout.align()) {
            // SAFETY: see the impl.
            unsafe { mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: the caller's promises are passed on.
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's promises are passed on.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if plain(layout.align()) {
            // SAFETY: see the impl; `ptr` is a live mimalloc block.
            unsafe { mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: the caller's promises are passed on.
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        }
    }
}

fn main() {
    return_freed_memory_promptly();
    let cli = qscope::cli::parse();
    if let Err(f) = qscope::cli::run(cli) {
        eprintln!("qscope: {}", f.reason);
        std::process::exit(f.code);
    }
}

/// mimalloc (version 3) keeps freed memory for a second before it gives
/// it back to the system; meanwhile a long run's resident set creeps up
/// (`stats` on the 1 GiB mixed capture: 55 MB, 40 MB on 200 MiB). After
/// 10 ms (version 2's delay): 47 MB and 38 MB, at no cost in speed that
/// interleaved runs could see. (`MIMALLOC_PURGE_DELAY` in the environment
/// is overridden.)
#[allow(unsafe_code)] // a C call: see its SAFETY comment
fn return_freed_memory_promptly() {
    // mimalloc.h: `mi_option_purge_delay` is 15 in versions 2 and 3.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: mimalloc's own function, linked in with the allocator above;
    // it stores a number in mimalloc's option table and may be called at
    // any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
}
