//! What a `#![no_std]` wasm package must bring itself: an allocator and a panic handler.
//!
//! Only for the package build. Everything else links the standard library, which brings both:
//! native builds, and the tests and tools, which turn on the `std` feature (the crate's own
//! dev-dependency on itself does that for `cargo test` and `wasm-pack test`).

#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
extern crate std;

#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod package {
    /// talc: smaller in the package than Rust's default dlmalloc, and as fast.
    #[global_allocator]
    static ALLOCATOR: talc::cell::TalcSyncCell<
        talc::wasm::WasmGrowAndClaim,
        talc::wasm::WasmBinning,
    > = talc::cell::TalcSyncCell::new_wasm(talc::wasm::WasmGrowAndClaim);

    /// No panic is expected; if one happens the wasm traps, and the JavaScript caller gets a
    /// `RuntimeError` instead of a keeper in an unknown state.
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }
}
