//! What a deferred block may evaluate to: `()` or `Result<(), E: Display>`.

use std::fmt::Display;

/// The value a deferred block may end in: `()`, or `Result<(), E>` where `E: Display`.
///
/// An `Err` is logged with the handler's name and counted as failed; it is never lost silently.
#[diagnostic::on_unimplemented(
    message = "a deferred block must evaluate to `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
    label = "this deferred block evaluates to `{Self}`",
    note = "end the block with `;` to discard a value, or return `Ok(())`"
)]
pub trait DeferredOutput: Send + 'static {
    /// Turns the block's value into `Ok(())` or the error's text.
    ///
    /// # Errors
    /// The `Display` text of the block's `Err`.
    fn into_result(self) -> Result<(), String>;
}

impl DeferredOutput for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: Display + Send + 'static> DeferredOutput for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|error| error.to_string())
    }
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

#[diagnostic::do_not_recommend]
impl DeferredOutput for never::Never {
    fn into_result(self) -> Result<(), String> {
        match self {}
    }
}
