//! The process's heap, set up once at start: one reservation, in huge pages where the kernel gives them.
//!
//! A run of ozrepair is short and reads everything it reports into memory: inspect of 10,000 connectors
//! holds about 16 MB (the rows, their views, the report), which the kernel hands out 4 KiB at a time, one
//! page fault each: 4,300 faults, a quarter of the run's time, against 700 for `sqlite3` selecting the same
//! rows. So malloc is told to grow its heap by 64 MiB at once (address space only: a page costs nothing
//! until it is written) and to take blocks of up to 32 MiB from it rather than from a mapping of their own;
//! that reservation is marked for transparent huge pages (`MADV_HUGEPAGE`: the kernel's `madvise` mode,
//! the default of most distributions), so the same 16 MB come in a handful of 2 MiB faults (about 400 in
//! all). Where the kernel gives no huge pages (THP `never`, none free), nothing changes but the fewer
//! `brk` calls. Memory a run frees stays in the process, as it did: a run is short.

/// How much the heap grows by at a time.
const PAD: usize = 64 << 20;
/// Blocks up to this size come from the heap (and so from its huge pages).
const FROM_HEAP: usize = 32 << 20;
/// A transparent huge page on x86_64 and arm64 (4 KiB base pages).
const HUGE: usize = 2 << 20;

/// Sets malloc up as described above. Call first thing in `main`, before any other thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn reserve() {
    // SAFETY: mallopt only changes malloc's parameters (glibc documents both); no other thread allocates yet.
    let set = unsafe {
        libc::mallopt(libc::M_TOP_PAD, PAD as libc::c_int) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, FROM_HEAP as libc::c_int) == 1
    };
    if !set {
        return;
    }
    // A block past the heap's top makes malloc grow the heap by the pad now (freeing it keeps the pad:
    // malloc trims its top only down to M_TOP_PAD). The block is never written.
    let probe: Vec<u8> = Vec::with_capacity(256 << 10);
    let at = probe.as_ptr() as usize;
    drop(probe);
    // SAFETY: sbrk(0) only reads the current end of the heap.
    let end = unsafe { libc::sbrk(0) } as usize;
    let start = (at + HUGE - 1) & !(HUGE - 1);
    // The probe came from the heap when it lies below the heap's end (glibc's main arena grows by brk; if
    // brk failed it maps memory elsewhere, and then nothing is marked).
    if at < end && start < end {
        // SAFETY: [start, end) lies inside the heap's mapping (from inside the probe's block to the heap's
        // end); MADV_HUGEPAGE changes how its pages are backed, never their contents. A failure (a kernel
        // without THP) leaves it as it was.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// Elsewhere (musl's static build, other systems) malloc is left as it is.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn reserve() {}
