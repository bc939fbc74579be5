// mimalloc: the engine allocates and frees a few small objects per decoded
// message, often on another thread than the one that allocated them (a
// shard decodes, the merger writes and drops); with glibc's allocator that
// was a quarter of `stats`. Transparent huge pages off: with them a 40 MB
// run showed 85 MB resident.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
