//! The npm package of session-keeper: [`SessionKeeper`] and its TypeScript types, built alone into
//! a `cdylib` by `wasm-pack build --release`.
//!
//! Everything lives in [`keeper_web`] (the browser shell, the JavaScript binding, the Rust
//! `Keeper`) and [`keeper_core`] (the rules). This crate exists because Rust does not run
//! link-time optimisation for a crate that is both a `cdylib` and an `rlib` (rust-lang/rust#51009):
//! built as a `cdylib` of its own, with LTO over every crate in it, the package is about 5 KB
//! (gzipped) smaller. Rust applications depend on `keeper-web` instead.
//!
//! The package is `#![no_std]`: it brings its own allocator and a panic handler, smaller than the
//! standard library's.
#![no_std]
#![deny(missing_docs)]

pub use keeper_web::{SessionKeeper, keeper_core};

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
