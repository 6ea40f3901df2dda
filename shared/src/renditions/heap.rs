//! Rendering allocates tens of megabytes per image (a 12 MP PNG decodes to 36 MB). glibc hands
//! freed memory back to the kernel, so every upload pays again for fresh zeroed pages: the four
//! renditions of a 12 MP PNG took 166 ms with glibc's defaults and 144 ms with these settings
//! (`tools/rendition-bench`). Keeping freed memory in the heap lets a warm function instance reuse
//! it; the price is a higher resident set between uploads.

/// Call once at start-up, before rendering anything.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters, under glibc's own arena lock; if it
    // refuses a value, the default stays in place.
    unsafe {
        // Trim the heap top only beyond 1 GiB of free memory, and grow it 64 MiB at a time.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        // The largest threshold glibc allows: buffers below 32 MiB come from the heap, not mmap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}
