//! What a deferred block may evaluate to: `()` or `Result<(), E: Display>`.

use std::fmt::Display;

/// The value a deferred block may end in: `()`, or `Result<(), E>` where `E: Display`.
///
/// An `Err` is logged with the handler's name and counted as failed; it is never lost silently.
///
/// The trait is sealed: those two are the forms the runtime knows how to report, and keeping
/// the set closed lets it change how it reports them without breaking anyone.
#[diagnostic::on_unimplemented(
    message = "a deferred block must evaluate to `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
    label = "this deferred block evaluates to `{Self}`",
    note = "end the block with `;` to discard a value, or return `Ok(())`"
)]
pub trait DeferredOutput: sealed::IntoBlockResult + Send + 'static {}

pub(crate) mod sealed {
    /// The sealed half of [`super::DeferredOutput`]: how the runtime reads a block's value.
    pub trait IntoBlockResult {
        /// `Ok(())`, or the `Display` text of the block's `Err`.
        fn into_block_result(self) -> Result<(), String>;
    }
}

impl sealed::IntoBlockResult for () {
    fn into_block_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl DeferredOutput for () {
    // A marker: what the runtime does with the value is in the sealed `IntoBlockResult`.
}

impl<E: Display> sealed::IntoBlockResult for Result<(), E> {
    fn into_block_result(self) -> Result<(), String> {
        self.map_err(|error| error.to_string())
    }
}

impl<E: Display + Send + 'static> DeferredOutput for Result<(), E> {
    // A marker, as for `()`.
}

/// `!` on stable: the output of `fn() -> !`. A block that diverges (`panic!`, `todo!()`, an
/// endless `loop`, `std::process::exit`) has this type in edition 2024 (and needs no fallback
/// to `()` in 2021).
mod never {
    pub trait FnOutput {
        type Output;
    }

    impl<R> FnOutput for fn() -> R {
        type Output = R;
    }

    pub type Never = <fn() -> ! as FnOutput>::Output;
}

impl sealed::IntoBlockResult for never::Never {
    fn into_block_result(self) -> Result<(), String> {
        match self {}
    }
}

#[diagnostic::do_not_recommend]
impl DeferredOutput for never::Never {}
